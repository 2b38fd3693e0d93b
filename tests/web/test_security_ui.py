"""The UI's defences, in process over a real database: CSRF on every form (a test generated
over the route table, so a new form is covered the day it is added), security headers on
every kind of response, secure cookies, the login throttle, and no script through data
that people other than the user typed (message content, contact attributes)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.accounts.users import create_user, session_for
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform, build_platform
from misiva.web.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from misiva.web.mount import mount_ui

PASSWORD = "correct horse battery staple"
OWNER = "owner@shop.test"
XSS = "<script>alert('x')</script>"


@dataclass
class Site:
    platform: Platform
    app: FastAPI
    server_id: int
    token: str

    def client(self, base_url: str = "http://ui.test", **headers: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    platform = build_platform(
        Settings(
            database_url=database_url,
            routes="*=capture",
            ui_login_failures=3,
            ui_login_lockout_seconds=600,
        )
    )
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    created = await create_server(platform.db, "shop")
    await add_domain(platform.db, "shop.test", "shop")
    await create_user(platform.db, OWNER, PASSWORD, Role.OWNER)
    await create_user(
        platform.db, "marta@shop.test", PASSWORD, Role.MARKETER, server_names=("shop",)
    )
    yield Site(platform, app, created.server.id, created.api_token)
    await platform.close()


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    await client.get("/ui/login")
    csrf = client.cookies[LOGIN_CSRF_COOKIE]
    return await client.post("/ui/login", data={"email": email, "password": password, "csrf": csrf})


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute of the app, through FastAPI's wrappers of included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            yield from _routes(list(getattr(inner, "routes", ())))


def _post_routes(app: FastAPI) -> list[str]:
    return sorted(
        {
            route.path
            for route in _routes(list(app.routes))
            if "POST" in route.methods and route.path.startswith("/ui/")
        }
    )


def _filled(path: str, server_id: int) -> str:
    """A route's path with its parameters filled: the real server, and made-up ids (the CSRF
    check comes before any look-up, so an id need not exist)."""
    path = path.replace("{server_id}", str(server_id))
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_ui_form_refuses_a_post_without_or_with_a_wrong_csrf_token(
    site: Site,
) -> None:
    routes = _post_routes(site.app)
    # The generated list is the UI's whole set of forms: a new form joins it by existing.
    assert len(routes) >= 30 and "/ui/login" in routes
    async with site.client() as client:
        assert (await _login(client, OWNER, PASSWORD)).status_code == 303
        session = client.cookies[SESSION_COOKIE]
        checked = 0
        for route in routes:
            url = _filled(route, site.server_id)
            for data in ({"name": "x"}, {"csrf": "not-the-token", "name": "x"}):
                # A refused logout still drops the cookie in this browser: put it back.
                client.cookies.set(SESSION_COOKIE, session)
                answer = await client.post(url, data=data)
                refused = answer.status_code in (400, 403)
                if route == "/ui/logout":
                    # Logging out anyway would be harmless, but the session must survive a
                    # forged post: it is only forgotten in this browser.
                    refused = await session_for(site.platform.db, session) is not None
                if route == "/ui/me/language":
                    refused = answer.status_code == 303 and answer.headers["location"] == "/ui"
                assert refused, f"POST {url} {data} answered {answer.status_code}"
                checked += 1
    assert checked == 2 * len(routes)


async def test_a_login_form_from_another_site_is_refused(site: Site) -> None:
    async with site.client() as client:
        forged = await client.post(
            "/ui/login", data={"email": OWNER, "password": PASSWORD, "csrf": "guessed"}
        )
        assert forged.status_code == 400 and SESSION_COOKIE not in forged.cookies


async def test_security_headers_on_pages_redirects_static_files_and_errors(site: Site) -> None:
    async with site.client() as client:
        answers = {
            "login page": await client.get("/ui/login"),
            "redirect": await client.get("/ui"),
            "root": await client.get("/"),
            "static": await client.get("/ui/static/ui.css"),
            "missing static": await client.get("/ui/static/nothing.css"),
        }
    for what, answer in answers.items():
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", what
        assert headers["referrer-policy"] == "same-origin", what
        assert "frame-ancestors 'none'" in headers["content-security-policy"], what
        assert "script-src 'self'" in headers["content-security-policy"], what
        script_src = headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert "unsafe-inline" not in script_src, what
        assert "strict-transport-security" not in headers, f"{what}: HSTS over plain HTTP"


async def test_hsts_and_secure_cookies_over_https_and_behind_a_tls_proxy(site: Site) -> None:
    for base, headers in (
        ("https://ui.test", {}),
        ("http://ui.test", {"X-Forwarded-Proto": "https"}),
    ):
        async with site.client(base, **headers) as client:
            page = await client.get("/ui/login")
            assert page.headers["strict-transport-security"].startswith("max-age=")
            login_cookie = page.headers["set-cookie"].lower()
            assert "secure" in login_cookie and "httponly" in login_cookie
            assert "samesite=strict" in login_cookie
            # The browser is on HTTPS (directly or through the proxy) and sends the Secure
            # cookie back; httpx, seeing http://, would not, so it is sent by hand.
            csrf = client.cookies[LOGIN_CSRF_COOKIE]
            signed = await client.post(
                "/ui/login",
                data={"email": OWNER, "password": PASSWORD, "csrf": csrf},
                headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
            )
            cookie = signed.headers["set-cookie"].lower()
            assert signed.status_code == 303 and cookie.startswith(SESSION_COOKIE)
            assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    async with site.client() as client:
        plain = await _login(client, OWNER, PASSWORD)
        assert "secure" not in plain.headers["set-cookie"].lower()


async def test_the_login_throttle_is_not_reset_by_the_attackers_own_account(site: Site) -> None:
    """Regression: a success used to clear the address's failures, so a marketer could
    sign in as themselves between guesses at the owner's password and never be locked out."""
    async with site.client() as client:
        codes = []
        for _ in range(2):
            codes.append((await _login(client, OWNER, "wrong guess")).status_code)
            codes.append((await _login(client, "marta@shop.test", PASSWORD)).status_code)
        codes.append((await _login(client, OWNER, "wrong guess")).status_code)
        codes.append((await _login(client, OWNER, PASSWORD)).status_code)
    assert codes == [401, 303, 401, 303, 401, 429]


async def test_message_content_and_contact_attributes_cannot_script_the_ui(site: Site) -> None:
    api_headers = {"X-Postmark-Server-Token": site.token, "Accept": "application/json"}
    async with site.client(**api_headers) as api:
        sent = await api.post(
            "/email",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "Subject": f"Hola {XSS}",
                "HtmlBody": f"<p>Hi</p>{XSS}<img src=x onerror=alert(1)>",
                "TextBody": f"Hi {XSS}",
                "Tag": XSS,
                "Metadata": {"note": XSS},
            },
        )
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["MessageID"]
        contact = await api.post(
            "/contacts",
            json={"Email": "ana@example.com", "Attributes": {"name": XSS}},
        )
        assert contact.status_code in (200, 201), contact.text
    async with site.client() as client:
        await _login(client, OWNER, PASSWORD)
        pages = {
            "message": await client.get(f"/ui/messages/{message_id}"),
            "activity": await client.get(f"/ui/servers/{site.server_id}/messages"),
            "contact": await client.get(f"/ui/servers/{site.server_id}/contacts/ana@example.com"),
            "contacts": await client.get(f"/ui/servers/{site.server_id}/contacts"),
        }
    for what, page in pages.items():
        assert page.status_code == 200, what
        assert "<script>alert" not in page.text, f"{what}: unescaped script"
        assert "onerror=alert" not in page.text.replace("onerror=alert(1)&gt;", ""), what
    # The message's HTML is shown only inside an empty sandbox, as an escaped srcdoc.
    frames = re.findall(r"<iframe[^>]*>", pages["message"].text)
    assert frames and all('sandbox=""' in frame for frame in frames)
    assert any("&lt;script&gt;" in frame for frame in frames)
    csp = pages["message"].headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
