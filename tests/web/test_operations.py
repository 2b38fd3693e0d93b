"""The operations pages in Debian's Chromium: API tokens (shown once, revoked, refused by the
API), streams, sending domains checked against a real local DNS server, webhooks' delivery log
and replay to a real local receiver, suppressions, and a contact's profile and erasure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness import Misiva, free_port, wait_until
from misiva.testing.dns_server import DnsServer
from misiva.testing.webhook_receiver import WebhookReceiver
from ui_harness import PASSWORD, UI, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as running:
        yield running


@pytest.fixture
def ops(misiva_factory: Callable[..., Misiva], dns: DnsServer) -> UI:
    """The `ui` installation, with the local DNS server, a bounce domain and quick webhooks."""
    misiva = misiva_factory(
        dns_nameserver=dns.address,
        bounce_domain="bounces.misiva.test",
        bounce_addr=f"127.0.0.1:{free_port()}",
        hostname="mx.misiva.test",
        webhook_poll_seconds="0.2",
        webhook_first_retry_seconds="0.2",
    )
    tokens = {"shop": misiva.setup_tenant("shop", "shop.test")[0]}
    for email, role in (("marta@shop.test", "marketer"), ("dev@shop.test", "developer")):
        misiva.cli(
            "users",
            "create",
            email,
            "--role",
            role,
            "--server=shop",
            "--password-stdin",
            stdin=PASSWORD,
        )
    misiva.serve()
    return UI(misiva, tokens)


def _api(ops: UI, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """A call to the shop server's API with its own token (from the test, not the browser)."""
    headers = {"X-Postmark-Server-Token": ops.tokens["shop"], "Accept": "application/json"}
    return httpx.request(method, ops.url + path, headers=headers, json=body, timeout=10)


def _send(ops: UI, token: str, to: str = "lucia@example.com") -> httpx.Response:
    return httpx.post(
        ops.url + "/email",
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        json={"From": "hola@shop.test", "To": to, "Subject": "Pedido", "TextBody": "Gracias"},
    )


async def _server_page(browser: Any, ops: UI, email: str) -> tuple[Any, str]:
    """Signed in, on the home page: the page and the base URL of the shop server's pages."""
    page = await sign_in(browser, ops, email)
    await page.wait_for_url("**/ui")
    activity = await page.get_by_role("link", name="Activity").first.get_attribute("href")
    return page, ops.url + activity.removesuffix("/messages")


async def test_a_developer_makes_a_token_once_revokes_it_and_checks_a_domain(
    browser: Any, ops: UI, dns: DnsServer
) -> None:
    page, base = await _server_page(browser, ops, "dev@shop.test")
    await page.goto(base + "/messages")
    await page.get_by_role("link", name="API tokens").click()
    await page.get_by_role("button", name="Create a token").click()
    token = await page.locator("#token-value").input_value()
    assert len(token) >= 32 and _send(ops, token).status_code == 200
    # Shown once: the tokens page never shows it again.
    await page.goto(base + "/tokens")
    assert token not in await page.content()
    assert await page.locator("#token-value").count() == 0
    rows = page.get_by_role("button", name="Revoke")
    assert await rows.count() == 2
    await rows.last.click()
    assert "revoked" in await page.get_by_role("status").inner_text()
    refused = _send(ops, token)
    assert refused.status_code == 401 and refused.json()["ErrorCode"] == 10
    assert _send(ops, ops.tokens["shop"]).status_code == 200

    # Streams: a new broadcast stream, then archived.
    await page.get_by_role("link", name="Streams").click()
    await page.get_by_label("ID", exact=True).fill("promos")
    await page.get_by_label("Name", exact=True).last.fill("Promociones")
    await page.get_by_label("Type", exact=True).select_option("Broadcasts")
    await page.get_by_role("button", name="Create the stream").click()
    assert "created" in await page.get_by_role("status").inner_text()
    await page.get_by_text("Change promos").click()
    await page.get_by_role("button", name="Archive").click()
    assert "archived" in await page.get_by_role("status").inner_text()
    archived = _api(ops, "GET", "/message-streams/promos")
    assert archived.json()["ArchivedAt"] is not None

    # Domains: the records to publish, and a check through the local DNS server.
    await page.get_by_role("link", name="Domains").click()
    section = page.locator("section", has=page.get_by_role("heading", name="shop.test"))
    assert "Not checked yet" in await section.inner_text()
    cells = section.locator("table tr")
    dkim_name = await cells.nth(1).locator("td code").first.inner_text()
    dkim_value = await cells.nth(1).locator("td code").nth(1).inner_text()
    assert dkim_name.endswith("._domainkey.shop.test") and "p=" in dkim_value
    assert "bounces.misiva.test" in await section.inner_text()
    dns.add(dkim_name, "TXT", " ".join(f'"{dkim_value[i : i + 255]}"' for i in range(0, 600, 255)))
    # SPF where receivers evaluate it (the bounce domain), authorising the sending host.
    dns.add("mx.misiva.test", "A", "127.0.0.1")
    dns.add("bounces.misiva.test", "TXT", '"v=spf1 a:mx.misiva.test ~all"')
    await page.get_by_role("button", name="Check now").click()
    assert "has run" in await page.get_by_role("status").inner_text()
    text = await section.inner_text()
    assert "Records missing" in text and "No DMARC record is published." in text
    assert "To fix: Publish a CNAME record at misiva-bounces.shop.test" in text
    assert text.count("✓ Published") == 2
    # A rotation: the new key's record joins the table beside the signing one.
    await page.get_by_role("button", name="Rotate the DKIM key").click()
    assert "new DKIM key" in await page.get_by_role("status").inner_text()
    table = await section.locator("table").inner_text()
    assert table.count("._domainkey.shop.test") == 2 and "new, waiting to be published" in table

    # A marketer: no tokens in the menu, 403 on the page, and no token anywhere.
    marta, _ = await _server_page(browser, ops, "marta@shop.test")
    await marta.goto(base + "/messages")
    assert await marta.get_by_role("link", name="API tokens").count() == 0
    assert await marta.get_by_role("link", name="Suppressions").count() == 1
    for path in ("/tokens", "/domains", "/webhooks"):
        response = await marta.goto(base + path)
        assert response is not None and response.status == 403
    forged = await marta.request.post(base + "/tokens", form={"csrf": "x"})
    assert forged.status == 403


async def test_a_webhook_delivery_is_logged_and_replayed(browser: Any, ops: UI) -> None:
    with WebhookReceiver() as receiver:
        made = _api(
            ops,
            "POST",
            "/webhooks",
            {"Url": receiver.url, "Triggers": {"Delivery": {"Enabled": True}}},
        )
        assert made.status_code == 200, made.text
        assert _send(ops, ops.tokens["shop"]).status_code == 200
        assert wait_until(lambda: len(receiver.accepted) == 1, timeout=40), ops.misiva.logs()
        page, base = await _server_page(browser, ops, "dev@shop.test")
        await page.goto(base + "/webhooks")
        row = page.locator("tr[data-delivery]")
        assert await row.count() == 1
        assert "HTTP 200" in await row.inner_text() and "delivered" in await row.inner_text()
        await page.get_by_role("button", name="Replay").click()
        assert "queued again" in await page.get_by_role("status").inner_text()
        assert wait_until(lambda: len(receiver.accepted) == 2)
        first, again = receiver.accepted
        # The same payload (PostgreSQL keeps it as JSONB, which orders the keys its own way).
        assert first.json == again.json and first.json["RecordType"] == "Delivery"
        for _ in range(50):
            await page.reload()
            if await row.locator("ol.ops-attempts li").count() == 2:
                break
            await page.wait_for_timeout(200)
        assert await row.locator("ol.ops-attempts li").count() == 2


async def test_a_marketer_manages_suppressions_and_erases_a_contact(browser: Any, ops: UI) -> None:
    ops.misiva.cli("templates", "install-starter", "--server", "shop")
    notices = {"Subscriptions": {"From": "Olivar <hola@shop.test>"}}
    _api(ops, "PATCH", "/message-streams/broadcast", notices).raise_for_status()
    asked = {
        "Email": "ana@example.com",
        "MessageStream": "broadcast",
        "Source": "footer form",
        "IpAddress": "203.0.113.7",
        "Contact": {"FirstName": "Ana", "City": "Sevilla", "Plan": "gold"},
    }
    _api(ops, "POST", "/subscriptions", asked).raise_for_status()
    page, base = await _server_page(browser, ops, "marta@shop.test")
    await page.goto(base + "/messages")
    await page.get_by_role("link", name="Suppressions").click()
    await page.get_by_label("Address", exact=True).fill("pepe@example.com")
    await page.get_by_label("Reason", exact=True).fill("asked by phone")
    await page.get_by_role("button", name="Suppress").click()
    assert "suppressed on this stream" in await page.get_by_role("status").inner_text()
    assert _send(ops, ops.tokens["shop"], "pepe@example.com").json()["ErrorCode"] == 406
    await page.get_by_label("Address contains").fill("pepe")
    await page.get_by_role("button", name="Search").click()
    found = page.locator("table.ops-suppressions").get_by_role(
        "cell", name="pepe@example.com", exact=True
    )
    assert await found.count() == 1
    await page.get_by_label("Address contains").fill("nobody")
    await page.get_by_role("button", name="Search").click()
    assert await page.locator("table.ops-suppressions").count() == 0
    await page.get_by_label("Address contains").fill("")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_label("Why remove pepe@example.com").fill("wrong address")
    await page.get_by_role("button", name="Remove pepe@example.com").click()
    assert "removed" in await page.get_by_role("status").inner_text()
    assert _send(ops, ops.tokens["shop"], "pepe@example.com").status_code == 200

    await page.get_by_role("link", name="Contacts").click()
    await page.get_by_label("Email, name, member number or external ID").fill("ana")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="ana@example.com").click()
    main = await page.locator("main").inner_text()
    assert "Sevilla" in main and "gold" in main
    subscriptions = await page.locator("table.ops-subscriptions").inner_text()
    assert "broadcast" in subscriptions and "waiting for confirmation" in subscriptions
    consent = await page.locator("ol.ops-consent").inner_text()
    assert "asked to subscribe" in consent and "203.0.113.7" in consent
    await page.get_by_label("I understand that the erasure cannot be undone").check()
    await page.get_by_role("button", name="Erase").click()
    assert "erased" in await page.get_by_role("status").inner_text()
    response = await page.goto(base + "/contacts/ana@example.com")
    assert response is not None and response.status == 404

    # Every change is in the audit log, and the erased address is not.
    ops.misiva.cli(
        "users",
        "create",
        "owner@shop.test",
        "--role",
        "owner",
        "--password-stdin",
        stdin=PASSWORD,
    )
    owner = await sign_in(browser, ops, "owner@shop.test")
    await owner.goto(ops.url + "/ui/audit")
    log = await owner.locator("table.audit").inner_text()
    for action in ("suppression.add", "suppression.remove", "contact.erase"):
        assert action in log
    assert "wrong address" in log and "ana@example.com" not in log
