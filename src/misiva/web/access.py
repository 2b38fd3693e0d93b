"""Who may see a page: the signed-in user, the capability a page needs, the server it is on.

Every page starts with one of these. They answer with the response to send instead when the
visit may not go on: the sign-in page for nobody signed in, and 404 for a server that does
not exist *or* that the user may not act on (ids reveal nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts.users import Session
from misiva.domain.alerts import Alert
from misiva.domain.records import Server
from misiva.domain.users import Capability, User
from misiva.storage import alerts as alert_store
from misiva.storage import servers as server_store
from misiva.web.deps import current_session, web_deps
from misiva.web.forms import Form, checked_form, expired_form
from misiva.web.render import page


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in user on a server's page: what every server page renders with."""

    session: Session
    server: Server
    # The server's open alerts: every server page shows them in a banner (header.html).
    alerts: tuple[Alert, ...] = ()

    @property
    def user(self) -> User:
        return self.session.user

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def context(self, section: str) -> dict[str, object]:
        """The names the header and server menu need (`section` marks the current entry)."""
        return {
            "user": self.user,
            "csrf": self.csrf,
            "server": self.server,
            "section": section,
            "open_alerts": self.alerts,
        }


async def signed_in(request: Request) -> Session | Response:
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    return session


def not_found(session: Session) -> Response:
    return page(
        "not-found.html", session.user.locale, 404, user=session.user, csrf=session.csrf_token
    )


def forbidden(session: Session) -> Response:
    """A page of a server the user sees, but an action their role does not allow."""
    return page(
        "forbidden.html", session.user.locale, 403, user=session.user, csrf=session.csrf_token
    )


async def visit(request: Request, server_id: int, need: Capability) -> Visit | Response:
    """The visit to a server's page needing `need`; or the sign-in page, a 404 or a 403."""
    got = await signed_in(request)
    if isinstance(got, Response):
        return got
    user = got.user
    if not user.may_see_server(server_id):
        return not_found(got)
    async with web_deps(request).db.reading() as tx:
        server = await server_store.get_server(tx, server_id)
        alerts = await alert_store.open_alerts(tx, server_id) if server else []
    if server is None:
        return not_found(got)
    if not user.can(need):
        return forbidden(got)
    return Visit(got, server, tuple(alerts))


async def posted(
    request: Request, server_id: int, need: Capability
) -> tuple[Visit, Form] | Response:
    """A form posted to a server's page: the visit as `visit` allows it, and the form if it
    carries the session's CSRF token (else 400)."""
    got = await visit(request, server_id, need)
    if isinstance(got, Response):
        return got
    form = await checked_form(request, got.csrf)
    if form is None:
        return expired_form()
    return got, form
