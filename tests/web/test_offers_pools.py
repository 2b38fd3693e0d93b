"""Promo code pools in the UI: the pages on both databases through the app as `misiva serve`
builds it (create, import a CSV file or pasted codes, generate, stock, the codes given by real
sends, who may change what, another server's pools), and in Chromium a marketer's whole flow."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from misiva.accounts.audit import recent
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.authoring import promo_pools
from misiva.config import Settings
from misiva.domain.clock import utcnow
from misiva.domain.promo import ParsedCodes
from misiva.domain.users import Role
from misiva.runtime.wiring import build_platform
from misiva.storage import Database
from misiva.storage import promo as promo_store
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui
from ui_harness import UI
from ui_harness import sign_in as browser_sign_in

PASSWORD = "correct horse battery staple"
WELCOME = {
    "Name": "Welcome",
    "Alias": "welcome",
    "Subject": "Welcome",
    "TextBody": "Thanks.{% if promo_code('WELCOME10') %} Code: {{ promo_code('WELCOME10') }}"
    "{% endif %}",
}


@dataclass
class Site:
    app: Any
    db: Database
    shop: int
    other: int
    token: str

    async def as_user(self, email: str) -> tuple[httpx.AsyncClient, str]:
        """A client signed in as `email`, and its session's CSRF token."""
        signed = await sign_in(self.db, email, PASSWORD)
        assert signed is not None
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://ui.test",
            cookies={SESSION_COOKIE: signed[0]},
        )
        return client, signed[1].csrf_token

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://misiva.test",
            headers={"X-Postmark-Server-Token": self.token, "Accept": "application/json"},
        )


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    shop = await create_server(platform.db, "shop")
    await add_domain(platform.db, "shop.test", "shop")
    other = await create_server(platform.db, "other")
    for email, role, servers in (
        ("marta@shop.test", Role.MARKETER, ("shop",)),
        ("vera@shop.test", Role.VIEWER, ("shop",)),
        ("otto@other.test", Role.MARKETER, ("other",)),
    ):
        await create_user(platform.db, email, PASSWORD, role, server_names=servers)
    yield Site(app, platform.db, shop.server.id, other.server.id, shop.api_token)
    await platform.close()


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _stock(page: str) -> tuple[int, ...]:
    return tuple(
        int(re.search(rf'id="stock-{name}">(\d+)<', page)[1])  # type: ignore[index]
        for name in ("total", "given", "redeemed", "available")
    )


async def test_a_marketer_creates_a_pool_imports_and_generates_codes(site: Site) -> None:
    client, csrf = await site.as_user("marta@shop.test")
    pools = f"/ui/servers/{site.shop}/offers/pools"
    async with client:
        assert "No pools yet." in (await client.get(pools)).text
        bad = await client.post(pools, data={"csrf": csrf, "key": "no spaces"})
        assert bad.status_code == 422 and "is not a valid pool key" in bad.text
        fields = {"key": "WELCOME10", "exhaustion": "fallback", "description": "Bienvenida"}
        refused = await client.post(pools, data={"csrf": csrf, **fields, "low_stock": "2"})
        assert refused.status_code == 422 and "needs a FallbackText" in refused.text
        assert 'value="Bienvenida"' in refused.text  # what was typed is kept
        late = {
            "starts_at": "2026-12-01T00:00",
            "ends_at": "2026-11-01T00:00",
            "fallback_text": "F",
        }
        dates = await client.post(pools, data={"csrf": csrf, **fields, **late})
        assert dates.status_code == 422 and "end must come after its start" in dates.text
        count = await client.post(pools, data={"csrf": csrf, "key": "X", "low_stock": "-1"})
        assert count.status_code == 422 and "must be a whole number" in count.text
        created = await client.post(
            pools,
            data={"csrf": csrf, **fields, "fallback_text": "WELCOME-ALL", "low_stock": "2"},
        )
        assert created.status_code == 303
        assert created.headers["location"] == f"{pools}/WELCOME10?done=created"
        shown = await client.get(created.headers["location"])
        assert "The pool was created" in shown.text and _stock(shown.text) == (0, 0, 0, 0)
        assert "Send the fallback text" in shown.text and "WELCOME-ALL" in shown.text
        again = await client.post(pools, data={"csrf": csrf, "key": "WELCOME10"})
        assert again.status_code == 422 and "already exists" in again.text

        # A CSV file: a header, three good codes, a bad line, a repeat, a blank line.
        csv = b"\xef\xbb\xbfcode\nW-1\nW-2\nnot a code\nW-1\n\nW-3,extra\n"
        imported = await client.post(
            f"{pools}/WELCOME10/import",
            data={"csrf": csrf, "codes": ""},
            files={"file": ("codes.csv", csv, "text/csv")},
        )
        text = _text(imported.text)
        assert imported.status_code == 200 and "Codes added: 3" in text
        assert "Lines refused: 2" in text
        assert "4 'not a code' is not a valid code" in text
        assert "5 'W-1' appears twice in this import" in text
        assert _stock(imported.text) == (3, 0, 0, 3)
        # Pasted codes, one already held: skipped and named.
        pasted = await client.post(
            f"{pools}/WELCOME10/import",
            data={"csrf": csrf, "codes": "W-3\r\nW-4\r\n"},
            files={"file": ("", b"", "application/octet-stream")},
        )
        text = _text(pasted.text)
        assert "Codes added: 1" in text and "already holds them): 1 W-3" in text
        nothing = await client.post(f"{pools}/WELCOME10/import", data={"csrf": csrf})
        assert nothing.status_code == 422 and "Choose a CSV file or paste codes" in nothing.text

        generated = await client.post(
            f"{pools}/WELCOME10/generate",
            data={"csrf": csrf, "pattern": "WELCOME-####-????", "count": "25"},
        )
        assert "Codes added: 25" in _text(generated.text)
        assert _stock(generated.text) == (29, 0, 0, 29)
        for pattern, count, problem in (
            ("WELCOME", "5", "is not a valid pattern"),
            ("W-#", "9", "cannot give 9 distinct codes"),
            ("W-####", "many", "How many codes: a whole number from 1 to 1000000."),
        ):
            wrong = await client.post(
                f"{pools}/WELCOME10/generate",
                data={"csrf": csrf, "pattern": pattern, "count": count},
            )
            assert wrong.status_code == 422 and problem in wrong.text
            assert f'value="{pattern}"' in wrong.text

        listing = _text((await client.get(pools)).text)
        assert "WELCOME10 Bienvenida from its creation with no end valid now" in listing
        assert "29 0 0 29 In stock" in listing
        expired = await client.post(f"{pools}/WELCOME10/generate", data={"pattern": "W-####"})
        assert expired.status_code == 400
    actions = [(e.entry.action, e.entry.target) for e in await recent(site.db, limit=10)]
    assert ("promo_pool.create", "WELCOME10") in actions
    assert actions.count(("promo_pool.import", "WELCOME10")) == 2
    assert ("promo_pool.generate", "WELCOME10") in actions


async def test_a_csv_of_100000_codes_imports_and_one_over_10_mb_is_refused(site: Site) -> None:
    await promo_pools.create_pool(site.db, site.shop, "BIG")
    client, csrf = await site.as_user("marta@shop.test")
    url = f"/ui/servers/{site.shop}/offers/pools/BIG/import"
    big = "".join(f"BIG-{n:07d}-ABCDEFGH\n" for n in range(100_000)).encode()
    assert len(big) > 2_000_000
    async with client:
        imported = await client.post(
            url, data={"csrf": csrf}, files={"file": ("big.csv", big, "text/csv")}
        )
        assert "Codes added: 100000" in _text(imported.text)
        huge = b"X" * (10 * 1024 * 1024 + 100_000)
        refused = await client.post(
            url, data={"csrf": csrf}, files={"file": ("huge.csv", huge, "text/csv")}
        )
        assert refused.status_code == 422 and "over 10 MB is refused" in refused.text
        pasted = await client.post(url, data={"csrf": csrf, "codes": huge.decode()})
        assert pasted.status_code == 422 and "over 10 MB is refused" in pasted.text
    view = await promo_pools.pool_view(site.db, site.shop, "BIG")
    assert view.stock.total == 100_000


async def test_the_codes_given_by_sends_are_listed_with_their_messages(site: Site) -> None:
    await promo_pools.create_pool(site.db, site.shop, "WELCOME10", low_stock_threshold=79)
    codes = [f"W-{n:03d}" for n in range(80)]
    await promo_pools.import_codes(site.db, site.shop, "WELCOME10", ParsedCodes(codes, []))
    async with site.api() as api:
        assert (await api.post("/templates", json=WELCOME)).status_code == 200
        sent = {}
        for to in ("ana@example.com", "bob@example.com"):
            reply = await api.post(
                "/email/withTemplate",
                json={"From": "hola@shop.test", "To": to, "TemplateAlias": "welcome"},
            )
            assert reply.status_code == 200, reply.text
            sent[to] = reply.json()["MessageID"]
        assert (await api.post("/promo-codes/W-000/redeem")).status_code == 200
    # More given straight through storage, to fill a second page.
    async with site.db.transaction() as tx:
        pool = await promo_store.get_pool(tx, site.shop, "WELCOME10")
        assert pool is not None
        for n in range(53):
            await promo_store.allocate(tx, pool, f"c{n}@example.com", f"m-{n}", utcnow())
    client, _csrf = await site.as_user("vera@shop.test")
    url = f"/ui/servers/{site.shop}/offers/pools/WELCOME10"
    async with client:
        first = await client.get(url)
        second = await client.get(url + "?page=2")
    assert _stock(first.text) == (80, 55, 1, 25)
    assert "Low stock" in first.text and "raised at" in first.text
    assert "Page 1 of 2" in first.text and f'href="{url}?page=2"' in first.text
    assert first.text.count("<tr>") - 1 == 50
    rows = _text(second.text)
    assert "W-000 ana@example.com" in rows and "W-001 bob@example.com" in rows
    assert f'href="/ui/messages/{sent["ana@example.com"]}"' in second.text
    ana = re.search(r"<tr>\s*<td><code>W-000</code>.*?</tr>", second.text, re.S)
    assert ana is not None and "not yet" not in ana[0] and "UTC" in ana[0]
    assert "Page 2 of 2" in second.text


async def test_viewers_only_look_and_other_servers_pools_are_not_found(site: Site) -> None:
    await promo_pools.create_pool(site.db, site.shop, "WELCOME10")
    await promo_pools.create_pool(site.db, site.other, "OTHER")
    shop = f"/ui/servers/{site.shop}/offers/pools"
    vera, csrf = await site.as_user("vera@shop.test")
    async with vera:
        page = await vera.get(f"{shop}/WELCOME10")
        assert page.status_code == 200 and "Import codes" not in page.text
        assert "New pool" not in (await vera.get(shop)).text
        for path, data in (
            (shop, {"key": "MINE"}),
            (f"{shop}/WELCOME10/generate", {"pattern": "W-####", "count": "5"}),
            (f"{shop}/WELCOME10/import", {"codes": "A-1"}),
        ):
            assert (await vera.post(path, data={"csrf": csrf, **data})).status_code == 403
    marta, csrf = await site.as_user("marta@shop.test")
    async with marta:
        for path in (f"{shop}/OTHER", f"{shop}/NOPE"):
            assert (await marta.get(path)).status_code == 404
        post = {"csrf": csrf, "pattern": "W-####", "count": "5"}
        assert (await marta.post(f"{shop}/OTHER/generate", data=post)).status_code == 404
        upload = {"file": ("c.csv", b"A-1\n", "text/csv")}
        other = await marta.post(f"{shop}/OTHER/import", data={"csrf": csrf}, files=upload)
        assert other.status_code == 404
        assert (await marta.get(f"/ui/servers/{site.other}/offers/pools")).status_code == 404
    assert (await promo_pools.pool_view(site.db, site.other, "OTHER")).stock.total == 0


async def test_the_pool_pages_speak_spanish(site: Site) -> None:
    await create_user(
        site.db, "lucia@shop.test", PASSWORD, Role.MARKETER, locale="es", server_names=("shop",)
    )
    await promo_pools.create_pool(site.db, site.shop, "WELCOME10")
    client, _csrf = await site.as_user("lucia@shop.test")
    async with client:
        listing = _text((await client.get(f"/ui/servers/{site.shop}/offers/pools")).text)
        pool = _text((await client.get(f"/ui/servers/{site.shop}/offers/pools/WELCOME10")).text)
    assert "Rechazar el envío" in listing and "Crear el grupo" in listing
    assert "Importar códigos" in pool and "Vacío" in pool


@pytest.mark.slow
async def test_a_marketer_fills_a_pool_in_the_browser(browser: Any, ui: UI) -> None:
    page = await browser_sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    activity = await page.get_by_role("link", name="Activity").first.get_attribute("href")
    pools = ui.url + activity.removesuffix("/messages") + "/offers/pools"
    await page.goto(pools)
    await page.get_by_label("Key").fill("WELCOME10")
    await page.get_by_label("Description").fill("Welcome offer")
    await page.get_by_label("When no code is left").select_option("omit")
    await page.get_by_label("Low-stock threshold").fill("5")
    await page.get_by_role("button", name="Create the pool").click()
    await page.wait_for_url("**/offers/pools/WELCOME10?done=created")
    assert "created" in await page.get_by_role("status").inner_text()

    csv = b"code\nSPRING-1\nSPRING-2\nnot valid!\nSPRING-3\n"
    await page.get_by_label("CSV file").set_input_files(
        {"name": "codes.csv", "mimeType": "text/csv", "buffer": csv}
    )
    await page.get_by_role("button", name="Import the codes").click()
    result = page.get_by_role("status")
    assert "Codes added: 3" in await result.inner_text()
    assert "'not valid!' is not a valid code" in await result.inner_text()
    assert await page.locator("#stock-available").inner_text() == "3"
    assert "Low stock" in await page.get_by_role("heading", level=1).inner_text()

    await page.get_by_label("Pattern").fill("SPRING-####-??")
    await page.get_by_label("How many codes").fill("40")
    await page.get_by_role("button", name="Generate the codes").click()
    assert "Codes added: 40" in await page.get_by_role("status").inner_text()
    assert await page.locator("#stock-total").inner_text() == "43"
    assert await page.locator("#stock-available").inner_text() == "43"
    assert "In stock" in await page.get_by_role("heading", level=1).inner_text()

    await page.get_by_role("link", name="All promo code pools").click()
    row = page.get_by_role("row", name=re.compile("WELCOME10"))
    assert re.search(r"43\s+0\s+0\s+43\s+In stock", await row.inner_text())
    assert "Leave the code out" in await row.inner_text()
