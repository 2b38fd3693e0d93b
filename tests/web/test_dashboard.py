"""The dashboard: its page on both databases through the app as `misiva serve` builds it (who
may see it, what it counts, the ranges, Spanish), and in Chromium after sending through the
API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from builders import T0, make_tenant, new_message
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.users import Role
from misiva.events.record import record_events, record_queued
from misiva.runtime.wiring import build_platform
from misiva.storage import Database
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui
from ui_harness import UI
from ui_harness import sign_in as browser_sign_in

PASSWORD = "correct horse battery staple"
NOW = T0 + timedelta(hours=3)


@dataclass
class Site:
    client: httpx.AsyncClient
    db: Database
    server_id: int

    async def as_user(self, email: str) -> httpx.AsyncClient:
        signed = await sign_in(self.db, email, PASSWORD, clock=lambda: NOW)
        assert signed is not None
        self.client.cookies.set(SESSION_COOKIE, signed[0])
        return self.client


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    web = replace(platform.web_deps(), clock=lambda: NOW)
    app = mount_ui(create_app(platform.api_deps()), web)
    tenant = await make_tenant(platform.db, "shop", "shop.test")
    await make_tenant(platform.db, "other", "other.test")
    for email, role, servers in (
        ("marta@shop.test", Role.MARKETER, ("shop",)),
        ("vera@shop.test", Role.VIEWER, ("shop",)),
        ("otto@other.test", Role.MARKETER, ("other",)),
    ):
        await create_user(platform.db, email, PASSWORD, role, server_names=servers)
    await _send_and_deliver(platform.db, tenant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield Site(client, platform.db, tenant.server.id)
    await platform.db.close()


def _event(tenant: Any, message_id: str, kind: EventType, to: str, at: datetime, **d: str) -> Any:
    return EventRecord(message_id, tenant.server.id, kind, to, at, d)


async def _send_and_deliver(db: Database, tenant: Any) -> None:
    """Four messages in the last hours: three delivered (one opened), one bounced hard."""
    sent = [
        new_message(tenant, (f"cliente{n}@{domain}",), at=T0 + timedelta(hours=n % 3))
        for n, domain in enumerate(("gmail.com", "gmail.com", "example.com", "yahoo.es"))
    ]
    events = [
        _event(
            tenant, m.id, EventType.DELIVERED, m.recipients[0], m.accepted_at + timedelta(seconds=3)
        )
        for m in sent[:3]
    ]
    events.append(_event(tenant, sent[0].id, EventType.OPENED, sent[0].recipients[0], NOW))
    events.append(
        _event(
            tenant,
            sent[3].id,
            EventType.BOUNCED,
            sent[3].recipients[0],
            sent[3].accepted_at,
            bounce_type="HardBounce",
            reply="550 5.1.1 The email account that you tried to reach does not exist",
        )
    )
    async with db.transaction() as tx:
        await record_queued(tx, sent)
        await record_events(tx, events)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_a_marketer_sees_the_counts_rates_and_reasons(site: Site) -> None:
    client = await site.as_user("marta@shop.test")
    page = await client.get(f"/ui/servers/{site.server_id}/dashboard")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Sent 4" in text and "Deliveries 3" in text and "Bounces 1" in text
    assert "Bounce rate 25.0% Danger" in text
    assert "Delivery rate 75.0% Danger" in text
    assert "Complaint rate 0.00% Good" in text
    assert "Median (p50) ≤ 3 s" in text
    assert "HardBounce 5.1.1 The email account that you tried to reach does not exist" in text
    # The breakdown by domain, largest first.
    assert re.search(r"By recipient domain Name .*? gmail\.com 2 2 0\.00%", text)
    # Every chart says its numbers in words too.
    assert re.search(r'role="img"\s+aria-label="Sent: 4 in total, at most 2 per hour"', page.text)


async def test_the_ranges_cover_a_week_and_a_month_by_day(site: Site) -> None:
    client = await site.as_user("vera@shop.test")
    for key, rows in (("7d", 7), ("30d", 30), ("24h", 24)):
        page = await client.get(f"/ui/servers/{site.server_id}/dashboard?range={key}")
        assert page.status_code == 200
        table = page.text.split('<table class="numbers">')[1].split("</table>")[0]
        assert table.count('<th scope="row">') == rows
        assert "Sent 4" in _text(page.text)
        assert f'href="?range={key}" aria-current="page"' in page.text


async def test_another_servers_user_gets_404_and_nobody_signed_in_the_sign_in(site: Site) -> None:
    anonymous = await site.client.get(f"/ui/servers/{site.server_id}/dashboard")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"
    client = await site.as_user("otto@other.test")
    assert (await client.get(f"/ui/servers/{site.server_id}/dashboard")).status_code == 404
    assert (await client.get("/ui/servers/999/dashboard")).status_code == 404


async def test_the_dashboard_speaks_spanish(site: Site) -> None:
    await create_user(
        site.db, "lucia@shop.test", PASSWORD, Role.MARKETER, locale="es", server_names=("shop",)
    )
    client = await site.as_user("lucia@shop.test")
    text = _text((await client.get(f"/ui/servers/{site.server_id}/dashboard")).text)
    assert "Tasa de rebote 25,0% Peligro" in text


def _send(ui: UI, to: str, subject: str) -> None:
    sent = httpx.post(
        ui.url + "/email",
        headers={"X-Postmark-Server-Token": ui.tokens["shop"]},
        json={
            "From": "hola@shop.test",
            "To": to,
            "Subject": subject,
            "TextBody": "Gracias",
            "Tag": "pedidos",
        },
    )
    assert sent.status_code == 200, sent.text


@pytest.mark.slow
async def test_a_marketer_opens_the_dashboard_after_sending(browser: Any, ui: UI) -> None:
    for n in range(3):
        _send(ui, f"cliente{n}@example.com", f"Pedido {n}")
    page = await browser_sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").click()
    await page.get_by_role("link", name="Dashboard").click()
    await page.wait_for_url("**/dashboard")
    delivered = page.locator("figure.metric-delivered figcaption strong")
    # The capture inbox delivers in the worker: reload until all three are counted.
    for _ in range(50):
        if await delivered.inner_text() == "3":
            break
        await page.wait_for_timeout(200)
        await page.reload()
    assert await delivered.inner_text() == "3"
    assert await page.locator("figure.metric-sent figcaption strong").inner_text() == "3"
    assert await page.get_by_role("img", name=re.compile(r"^Sent: 3 in total")).is_visible()
    await page.get_by_role("link", name="Last 7 days").click()
    await page.wait_for_url("**/dashboard?range=7d")
    tags = page.locator("section", has=page.get_by_role("heading", name="By tag"))
    assert "pedidos" in await tags.inner_text()
    assert "Good" in await page.locator("li.rate").first.inner_text()
