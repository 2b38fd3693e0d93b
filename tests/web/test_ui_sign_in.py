"""The web UI in Debian's Chromium, driven by Playwright: sign in, what each role sees, sign
out; and the HTTP-level guarantees (cookies, CSRF, throttling) with a real client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from harness import Misiva

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("Chromium is required in CI: `make test` installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    # The async API: the sync one runs an event loop on the test's thread, where the
    # database fixtures run theirs.
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            # As root in a container, with no network: the flags Debian's Chromium needs here.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        await launched.close()


@pytest.fixture
def ui(misiva_factory: Callable[..., Misiva]) -> Misiva:
    misiva = misiva_factory()
    misiva.setup_tenant("shop", "shop.test")
    misiva.setup_tenant("other", "other.test")
    for email, role, servers in (
        ("owner@shop.test", "owner", ()),
        ("marta@shop.test", "marketer", ("shop",)),
        ("dev@shop.test", "developer", ("shop",)),
    ):
        args = [f"--server={s}" for s in servers]
        misiva.cli(
            "users", "create", email, "--role", role, *args, "--password-stdin", stdin=PASSWORD
        )
    misiva.serve()
    return misiva


async def _sign_in(browser: Any, misiva: Misiva, email: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="en-GB")
    await page.goto(misiva.url + "/")
    assert page.url.endswith("/ui/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def test_a_marketer_signs_in_sees_their_server_and_no_tokens(
    browser: Any, ui: Misiva
) -> None:
    page = await _sign_in(browser, ui, "marta@shop.test")
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


async def test_owners_see_every_server_and_developers_the_tokens(browser: Any, ui: Misiva) -> None:
    owner = await _sign_in(browser, ui, "owner@shop.test")
    await owner.wait_for_url("**/ui")
    assert await owner.get_by_role("heading", name="other").is_visible()
    developer = await _sign_in(browser, ui, "dev@shop.test")
    await developer.wait_for_url("**/ui")
    assert await developer.locator("ul.tokens li").count() == 1


async def test_a_wrong_password_says_so_in_the_users_language(browser: Any, ui: Misiva) -> None:
    page = await browser.new_page(locale="es-ES")
    await page.goto(ui.url + "/ui/login")
    await page.get_by_label("Correo electrónico").fill("marta@shop.test")
    await page.get_by_label("Contraseña").fill("not the password")
    await page.get_by_role("button", name="Entrar").click()
    alert = await page.get_by_role("alert").inner_text()
    assert alert.startswith("Ese correo y esa contraseña")


def test_cookies_csrf_and_throttling(ui: Misiva) -> None:
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
