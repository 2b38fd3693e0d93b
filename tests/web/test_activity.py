"""The activity search's filters and paging, and the capture inbox, over HTTP as a signed-in
marketer and in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from harness import wait_until
from ui_harness import PASSWORD, UI, sign_in

pytestmark = pytest.mark.slow
MESSAGES = "/ui/servers/1/messages"


@pytest.fixture
def signed_in(ui: UI) -> Iterator[Callable[[str], httpx.Client]]:
    """HTTP clients signed in through the real form as a user, closed afterwards."""
    opened: list[httpx.Client] = []

    def client_for(email: str) -> httpx.Client:
        client = httpx.Client(base_url=ui.url, timeout=10)
        opened.append(client)
        client.get("/ui/login")
        csrf = client.cookies["misiva_login_csrf"]
        form = {"email": email, "password": PASSWORD, "csrf": csrf}
        assert client.post("/ui/login", data=form).status_code == 303
        return client

    yield client_for
    for client in opened:
        client.close()


def _api(ui: UI, path: str, body: Any) -> Any:
    sent = httpx.post(
        ui.url + path,
        headers={"X-Postmark-Server-Token": ui.tokens["shop"], "Accept": "application/json"},
        json=body,
        timeout=10,
    )
    assert sent.status_code == 200, sent.text
    return sent.json()


def _send_traffic(ui: UI) -> int:
    """55 plain messages and one from a template; returns the template's id."""
    template = _api(
        ui,
        "/templates",
        {
            "Name": "Recibo",
            "Alias": "recibo",
            "Subject": "Recibo {{ n }}",
            "HtmlBody": "<p>Recibo {{ n }}</p>",
            "TextBody": "Recibo {{ n }}",
        },
    )
    batch = [
        {
            "From": "hola@shop.test",
            "To": f"cliente{i}@example.com",
            "Subject": f"Pedido {i}",
            "TextBody": "Gracias",
            "Tag": "pedido",
            "Metadata": {"order_id": str(1000 + i)},
        }
        for i in range(55)
    ]
    assert all(r["ErrorCode"] == 0 for r in _api(ui, "/email/batch", batch))
    _api(
        ui,
        "/email/withTemplate",
        {
            "From": "hola@shop.test",
            "To": "lucia@example.com",
            "TemplateAlias": "recibo",
            "TemplateModel": {"n": 7},
        },
    )
    return int(template["TemplateId"])


def _rows(html: str) -> list[str]:
    return re.findall(r'<a href="/ui/messages/[^"]+">([^<]*)</a>', html)


def test_filters_paging_and_bad_input(ui: UI, signed_in: Callable[[str], httpx.Client]) -> None:
    template_id = _send_traffic(ui)
    client = signed_in("marta@shop.test")

    def search(**params: str) -> httpx.Response:
        found = client.get(MESSAGES, params=params)
        assert found.status_code == 200
        return found

    # Everything is delivered to the capture inbox by the worker in a moment.
    assert wait_until(lambda: "Messages found: 56" in search(status="delivered").text)
    assert "Messages found: 0" in search(status="bounced").text
    first = search()
    assert "Messages found: 56" in first.text and len(_rows(first.text)) == 50
    assert "Page 1 of 2" in first.text and 'rel="prev"' not in first.text
    second_url = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert second_url is not None
    second = client.get(second_url.group(1).replace("&amp;", "&"))
    assert len(_rows(second.text)) == 6 and "Page 2 of 2" in second.text
    by_template = search(template=str(template_id))
    assert _rows(by_template.text) == ["Recibo 7"]
    assert f'<option value="{template_id}" selected>' in by_template.text
    assert _rows(search(metadata="order_id=1042").text) == ["Pedido 42"]
    today = datetime.now(UTC).date()
    assert (
        "Messages found: 56" in search(**{"from": today.isoformat(), "to": today.isoformat()}).text
    )
    assert "Messages found: 0" in search(**{"from": (today + timedelta(days=1)).isoformat()}).text
    # Filters stay in the URL: the paging link keeps them.
    kept = search(tag="pedido", status="delivered")
    assert "Messages found: 55" in kept.text and "tag=pedido" in kept.text
    # Bad input is a message on the page, not an error page.
    for params, says in (
        ({"from": "yesterday"}, "“From” must be a date"),
        ({"metadata": "order_id"}, "Metadata must be written as key=value"),
        ({"template": "999"}, "That template does not exist."),
        ({"status": "lost"}, "That status does not exist."),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "“From” must not be after “To”."),
        ({"page": "²"}, "Messages found: 56"),
    ):
        assert says in search(**params).text, params
    # Another server's activity is not found; a server's menu marks where one is.
    assert client.get("/ui/servers/2/messages").status_code == 404
    assert 'href="/ui/servers/1/messages" aria-current="page"' in first.text


def test_the_capture_inbox_lists_and_shows_captured_mail(
    ui: UI, signed_in: Callable[[str], httpx.Client]
) -> None:
    _api(
        ui,
        "/email",
        {
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "Subject": "Tu factura de marzo",
            "HtmlBody": "<p>Factura adjunta</p><script>alert(1)</script>",
            "TextBody": "Factura adjunta",
        },
    )
    _api(
        ui,
        "/email",
        {"From": "hola@shop.test", "To": "bo@example.com", "Subject": "Otro", "TextBody": "x"},
    )
    client = signed_in("marta@shop.test")
    assert wait_until(lambda: "Messages found: 2" in client.get("/ui/servers/1/capture").text)
    found = client.get("/ui/servers/1/capture", params={"recipient": "ANA@"})
    assert "Messages found: 1" in found.text and "Tu factura de marzo" in found.text
    assert (
        "Messages found: 1"
        in client.get("/ui/servers/1/capture", params={"subject": "factura"}).text
    )
    link = re.search(r'href="(/ui/servers/1/capture/\d+)"', found.text)
    assert link is not None
    shown = client.get(link.group(1))
    assert shown.status_code == 200 and 'sandbox=""' in shown.text
    assert "Factura adjunta" in shown.text and "DKIM-Signature" in shown.text
    # Only its server's inbox shows it; another's answers 404 to those who may not see it.
    other = link.group(1).replace("/servers/1/", "/servers/2/")
    owner = signed_in("owner@shop.test")
    assert owner.get(other).status_code == 404
    assert client.get("/ui/servers/2/capture").status_code == 404


async def test_a_marketer_narrows_the_activity_with_the_form(browser: Any, ui: UI) -> None:
    _send_traffic(ui)
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.goto(ui.url + MESSAGES)
    await page.get_by_label("Template").select_option(label="Recibo (recibo)")
    await page.get_by_label("Metadata").fill("nothing")
    await page.get_by_role("button", name="Search").click()
    assert "Metadata must be written" in await page.get_by_role("alert").inner_text()
    await page.get_by_label("Metadata").fill("")
    await page.get_by_role("button", name="Search").click()
    assert "template=" in page.url
    await page.get_by_role("link", name="Recibo 7").click()
    await page.wait_for_url("**/ui/messages/*")
    assert await page.get_by_role("link", name="Activity").get_attribute("aria-current") == "page"
