"""A new server, for owners: its name in, its first API token shown once out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.accounts import audit
from misiva.accounts import servers as server_admin
from misiva.accounts.users import Session
from misiva.domain.errors import MisivaError
from misiva.domain.users import Capability
from misiva.web.access import forbidden, signed_in
from misiva.web.deps import web_deps
from misiva.web.forms import checked_form, expired_form
from misiva.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/ui/servers/new")
async def new_server_page(request: Request) -> Response:
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    if not session.user.can(Capability.MANAGE_SERVERS):
        return forbidden(session)
    return _page(session, name="", error=None, made=None)


@router.post("/ui/servers/new")
async def new_server(request: Request) -> Response:
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    if not session.user.can(Capability.MANAGE_SERVERS):
        return forbidden(session)
    form = await checked_form(request, session.csrf_token)
    if form is None:
        return expired_form()
    deps = web_deps(request)
    name = form.get("name")
    try:
        made = await server_admin.create_server(deps.db, name, clock=deps.clock)
    except MisivaError as error:
        return _page(session, name=name, error=error.message, made=None, status=422)
    await audit.record(
        deps.db, session.user, "server.create", made.server.name, server_id=made.server.id
    )
    # No redirect: this answer is the only place the server's first token is ever shown.
    return _page(session, name="", error=None, made=made)


def _page(
    session: Session,
    *,
    name: str,
    error: str | None,
    made: server_admin.NewServer | None,
    status: int = 200,
) -> Response:
    return page(
        "operations/server-new.html",
        session.user.locale,
        status,
        user=session.user,
        csrf=session.csrf_token,
        server_name=name,
        error=error,
        made=made,
    )
