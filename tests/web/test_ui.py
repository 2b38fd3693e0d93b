"""The web UI in Debian's Chromium, driven by Playwright: sign in, what each role sees, finding
a message and reading its timeline, sign out; and the HTTP-level guarantees (cookies, CSRF,
throttling) with a real client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ui_harness import PASSWORD, UI, sign_in

pytestmark = pytest.mark.slow


async def test_a_marketer_signs_in_sees_their_server_and_no_tokens(browser: Any, ui: UI) -> None:
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    assert await page.get_by_role("heading", name="shop").is_visible()
    # Only the servers the marketer was given; and no API tokens, not even their dates.
    assert await page.get_by_role("heading", name="other").count() == 0
    assert await page.locator("ul.tokens").count() == 0
    assert await page.get_by_text("Only developers and owners see API tokens.").is_visible()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/ui/login")
    await page.goto(ui.url + "/ui")
    assert page.url.endswith("/ui/login")


async def test_owners_see_every_server_and_developers_the_tokens(browser: Any, ui: UI) -> None:
    owner = await sign_in(browser, ui, "owner@shop.test")
    await owner.wait_for_url("**/ui")
    assert await owner.get_by_role("heading", name="other").is_visible()
    developer = await sign_in(browser, ui, "dev@shop.test")
    await developer.wait_for_url("**/ui")
    assert await developer.locator("ul.tokens li").count() == 1


async def test_a_wrong_password_says_so_in_the_users_language(browser: Any, ui: UI) -> None:
    page = await browser.new_page(locale="es-ES")
    await page.goto(ui.url + "/ui/login")
    await page.get_by_label("Correo electrónico").fill("marta@shop.test")
    await page.get_by_label("Contraseña").fill("not the password")
    await page.get_by_role("button", name="Entrar").click()
    alert = await page.get_by_role("alert").inner_text()
    assert alert.startswith("Ese correo y esa contraseña")


def test_cookies_csrf_and_throttling(ui: UI) -> None:
    with httpx.Client(base_url=ui.url) as client:
        form = client.get("/ui/login")
        assert form.headers["x-frame-options"] == "DENY"
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        # A post without the form's cookie (another site's form) is refused.
        forged = httpx.post(
            ui.url + "/ui/login",
            data={"email": "owner@shop.test", "password": PASSWORD, "csrf": csrf},
        )
        assert forged.status_code == 400 and "misiva_session" not in forged.cookies
        garbled = client.post(
            "/ui/login", data={"email": "owner@shop.test", "password": "x", "csrf": "ñandú"}
        )
        assert garbled.status_code == 400
        signed = client.post(
            "/ui/login", data={"email": "owner@shop.test", "password": PASSWORD, "csrf": csrf}
        )
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
    with httpx.Client(base_url=ui.url) as client:
        client.get("/ui/login")
        csrf = client.cookies["misiva_login_csrf"]
        codes = [
            client.post(
                "/ui/login", data={"email": "owner@shop.test", "password": "x", "csrf": csrf}
            ).status_code
            for _ in range(11)
        ]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def _send(misiva: UI, server: str, to: str, subject: str) -> str:
    sent = httpx.post(
        misiva.url + "/email",
        headers={"X-Postmark-Server-Token": misiva.tokens[server]},
        json={
            "From": f"hola@{server}.test",
            "To": to,
            "Subject": subject,
            "HtmlBody": "<p>Gracias por tu pedido</p><script>alert(1)</script>",
            "TextBody": "Gracias por tu pedido",
        },
    )
    assert sent.status_code == 200, sent.text
    message_id: str = sent.json()["MessageID"]
    return message_id


async def test_a_marketer_finds_a_message_and_reads_its_timeline(browser: Any, ui: UI) -> None:
    _send(ui, "shop", "other-customer@example.com", "Otro pedido")
    message_id = _send(ui, "shop", "lucia@example.com", "Tu pedido 1042")
    foreign = _send(ui, "other", "lucia@example.com", "Not for marketers of shop")
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").click()
    await page.get_by_label("Recipient").fill("lucia@example.com")
    await page.get_by_role("button", name="Search").click()
    assert await page.get_by_role("link", name="Otro pedido").count() == 0
    await page.get_by_role("link", name="Tu pedido 1042").click()
    await page.wait_for_url(f"**/ui/messages/{message_id}")
    timeline = page.locator("ol.timeline")
    assert "Queued" in await timeline.inner_text()
    # Delivery to the capture inbox is recorded by the worker: reload until it is there.
    for _ in range(50):
        if "Delivered" in await timeline.inner_text():
            break
        await page.wait_for_timeout(200)
        await page.reload()
    assert "Delivered" in await timeline.inner_text()
    frame = page.locator("iframe")
    assert await frame.get_attribute("sandbox") == ""
    assert "Gracias por tu pedido" in await page.locator("pre").first.inner_text()
    response = await page.goto(f"{ui.url}/ui/messages/{foreign}")
    assert response is not None and response.status == 404


async def test_an_owner_creates_a_server_and_its_token_works_once_shown(
    browser: Any, ui: UI
) -> None:
    page = await sign_in(browser, ui, "owner@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="New server").click()
    await page.get_by_label("Name").fill("shop")
    await page.get_by_role("button", name="Create the server").click()
    assert "already exists" in await page.get_by_role("alert").inner_text()
    await page.get_by_label("Name").fill("newsletter")
    await page.get_by_role("button", name="Create the server").click()
    token = await page.get_by_label("Token").input_value()
    async with httpx.AsyncClient(base_url=ui.url) as client:
        answer = await client.get(
            "/templates",
            params={"count": 10, "offset": 0},
            headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        )
    assert answer.status_code == 200 and answer.json()["TotalCount"] == 0
    await page.goto(ui.url + "/ui")
    assert await page.get_by_role("heading", name="newsletter").is_visible()
    assert token not in await page.content()
    # Only owners make servers.
    marketer = await sign_in(browser, ui, "marta@shop.test")
    await marketer.wait_for_url("**/ui")
    assert await marketer.get_by_role("link", name="New server").count() == 0
    response = await marketer.goto(ui.url + "/ui/servers/new")
    assert response is not None and response.status == 403


async def test_each_user_chooses_their_language_in_the_ui(browser: Any, ui: UI) -> None:
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").click()
    await page.get_by_label("Language").select_option("es")
    await page.get_by_role("button", name="Change").click()
    # Back on the same page, now in Spanish, and it stays so in the next session.
    await page.wait_for_url("**/messages")
    assert await page.get_by_role("button", name="Buscar").is_visible()
    again = await sign_in(browser, ui, "marta@shop.test")
    await again.wait_for_url("**/ui")
    assert await again.get_by_role("heading", name="Servidores").is_visible()
    # Another user keeps theirs.
    other = await sign_in(browser, ui, "dev@shop.test")
    await other.wait_for_url("**/ui")
    assert await other.get_by_role("heading", name="Servers").is_visible()
