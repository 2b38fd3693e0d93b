"""The UI's pages: sign in and out, and the home page of the servers a user may see."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts.users import LOCALES, SESSION_LIFETIME, set_locale, sign_in, sign_out
from misiva.domain.users import Capability
from misiva.storage import messages as message_store
from misiva.storage import servers as server_store
from misiva.web.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    current_session,
    secure_cookies,
    web_deps,
)
from misiva.web.forms import read_form, same
from misiva.web.i18n import N_, gettext_for, language
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
_LOGIN_ERRORS = {
    "wrong": N_("That email and password do not match an account."),
    "locked": N_("Too many failed attempts from your address. Try again in a few minutes."),
    "expired_form": N_("The form expired. Please try again."),
}


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/ui", status_code=303)


@router.get("/ui/login")
async def login_page(request: Request) -> Response:
    return _login(request, error=None)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    email = form.get("email", "")
    # Double-submit: the form's token must match the cookie set with the form (no session
    # exists yet to hold one), so another site cannot post a login for its own account.
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not same(cookie, form.get("csrf", "")):
        return _login(request, error="expired_form", email=email, status=400)
    deps = web_deps(request)
    address = client_address(request)
    if deps.logins.locked(address):
        return _login(request, error="locked", email=email, status=429)
    signed = await sign_in(deps.db, email, form.get("password", ""), clock=deps.clock)
    if signed is None:
        deps.logins.failed(address)
        return _login(request, error="wrong", email=email, status=401)
    # A success does not clear the address's failures: else anyone with an account of their
    # own could sign in between guesses at someone else's password and never be locked out.
    value, _session = signed
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    session = await current_session(request)
    form = await read_form(request)
    if session is not None and same(session.csrf_token, form.get("csrf", "")):
        await sign_out(web_deps(request).db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/ui/me/language")
async def language_choice(request: Request) -> Response:
    """A user's own choice of language; back to the page they were on."""
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    form = await read_form(request)
    if not same(session.csrf_token, form.get("csrf", "")):
        return RedirectResponse("/ui", status_code=303)
    locale = form.get("locale")
    if locale in LOCALES:
        await set_locale(web_deps(request).db, session.user, locale)
    # Back to the page the form was on (the browser names it: Referrer-Policy same-origin),
    # and only to a UI path on this site, never an open redirect to another one.
    came_from = urlsplit(request.headers.get("referer", ""))
    back = came_from.path if came_from.netloc == request.url.netloc else ""
    if came_from.query:
        back += "?" + came_from.query
    return RedirectResponse(back if back.startswith("/ui/") else "/ui", status_code=303)


@router.get("/ui")
async def home(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    user = session.user
    rows: list[dict[str, Any]] = []
    async with web_deps(request).db.reading() as tx:
        for server in await server_store.list_servers(tx):
            if not user.may_see_server(server.id):
                continue
            counts = await message_store.count_by_status(tx, server.id)
            tokens = (
                await server_store.token_dates(tx, server.id)
                if user.can(Capability.MANAGE_INTEGRATION)
                else None
            )
            rows.append(
                {
                    "server": server,
                    "counts": {status.value: n for status, n in counts.items()},
                    "tokens": tokens,
                }
            )
    return page("home.html", user.locale, user=user, csrf=session.csrf_token, servers=rows)


def _login(request: Request, *, error: str | None, email: str = "", status: int = 200) -> Response:
    lang = language(request.headers.get("accept-language"))
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        "login.html",
        lang,
        status,
        error=gettext_for(lang).gettext(_LOGIN_ERRORS[error]) if error else None,
        csrf=token,
        email=email,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/ui/login",
    )
    return response
