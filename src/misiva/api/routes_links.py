"""The recipient's subscription links: one-click unsubscribe (RFC 8058), the unsubscribe page,
the preference centre and the double opt-in confirmation, each a branded, localised page."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from misiva.api.auth import deps_of
from misiva.domain.subscriptions import ChangeVia, Requester
from misiva.pages import Page, PageContext, Topic, render_page
from misiva.subscriptions.views import LinkState, LinkView

router = APIRouter(tags=["subscription links"], include_in_schema=False)
# Our preference form is a few hundred bytes; anything far larger is not from it.
MAX_FORM_BYTES = 64 * 1024
# The page is the person's own: no cache may keep it, no referrer may leak its token.
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """A GET never unsubscribes: link scanners and previews fetch it. It asks to confirm."""
    view = await deps_of(request).recipient_links.view_unsubscribe(token)
    # Relative, so the form posts back through whatever proxy served the page.
    return _page(view, Page.UNSUBSCRIBE_CONFIRM, action_url=request.url.path)


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058 §3.2: a POST to the List-Unsubscribe URL unsubscribes at once, whatever its
    body says (mail providers send `List-Unsubscribe=One-Click`; our page's form the same)."""
    via = ChangeVia.UNSUBSCRIBE_PAGE if _from_a_browser(request) else ChangeVia.ONE_CLICK
    view = await deps_of(request).recipient_links.unsubscribe(token, _requester(request, via))
    return _page(view, Page.UNSUBSCRIBED)


@router.get("/preferences/{token}")
async def preferences_page(request: Request, token: str) -> HTMLResponse:
    highlight = request.query_params.get("topic", "")
    view = await deps_of(request).recipient_links.view_preferences(token, highlight)
    return _page(view, Page.PREFERENCES, action_url=request.url.path, highlight=highlight)


@router.post("/preferences/{token}")
async def save_preferences(request: Request, token: str) -> HTMLResponse:
    form = await _form(request)
    if form.get("form") != ["preferences"]:
        # Not our form (an empty or garbled post): show the choices, change nothing; an
        # empty choice would otherwise read as "leave everything".
        return await preferences_page(request, token)
    chosen = set() if form.get("all") == ["off"] else set(form.get("topic", []))
    view = await deps_of(request).recipient_links.save_preferences(
        token, chosen, _requester(request, ChangeVia.PREFERENCE_CENTRE)
    )
    return _page(view, Page.PREFERENCES_SAVED)


@router.get("/subscriptions/confirm/{token}")
async def confirm(request: Request, token: str) -> HTMLResponse:
    """Following the emailed link confirms: the link reached only the address's owner."""
    view = await deps_of(request).opt_in.confirm(
        token, _requester(request, ChangeVia.CONFIRMATION_LINK)
    )
    return _page(view, Page.OPT_IN_CONFIRMED)


def _page(view: LinkView, page: Page, *, action_url: str = "", highlight: str = "") -> HTMLResponse:
    """The page for the view; a forged or altered link gets 404, an expired one 410."""
    if view.state is LinkState.INVALID or view.server is None:
        # Whose link it claims to be is unproven: no brand, and the page says nothing of it.
        return _html(Page.LINK_INVALID, PageContext("en", {}, ""), 404)
    if view.state is LinkState.EXPIRED:
        context = PageContext(view.locale, view.server.brand, view.server.name)
        return _html(Page.LINK_EXPIRED, context, 410)
    context = PageContext(
        locale=view.locale,
        brand=view.server.brand,
        server_name=view.server.name,
        email=view.email,
        stream_name=view.stream.name if view.stream else "",
        action_url=action_url,
        preferences_url=view.preferences_url,
        resubscribe_url=view.resubscribe_url,
        topics=tuple(Topic(t.id, t.name, t.description, t.subscribed) for t in view.topics),
        highlight=highlight,
        already=view.already,
    )
    return _html(page, context, 200)


def _html(page: Page, context: PageContext, status: int) -> HTMLResponse:
    return HTMLResponse(render_page(page, context), status_code=status, headers=_PRIVATE)


def _requester(request: Request, via: ChangeVia) -> Requester:
    return Requester(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        via=via,
    )


def _from_a_browser(request: Request) -> bool:
    """Our page's form is posted by a browser that says where from; a mail provider's
    one-click POST carries no Origin or Referer (RFC 8058 §3.2 forbids cookies too)."""
    return bool(request.headers.get("origin") or request.headers.get("referer"))


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form, as our page's form posts it; anything else reads as empty."""
    body = await request.body()
    kind = request.headers.get("content-type", "")
    if len(body) > MAX_FORM_BYTES or not kind.startswith("application/x-www-form-urlencoded"):
        return {}
    return parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)
