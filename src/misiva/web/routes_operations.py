"""Operations pages of a server: API tokens (a new one shown once; revoke) and message streams
(create, edit, archive). Domains, webhooks, suppressions and contacts have their own modules,
included here so that mount.py registers one router for all of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.accounts import audit
from misiva.accounts import servers as server_admin
from misiva.accounts import streams as stream_admin
from misiva.domain.content_blocks import DEFAULT_MAX_BLOCK_SHARE_PERCENT
from misiva.domain.enums import StreamType, TrackLinks
from misiva.domain.errors import MisivaError
from misiva.domain.users import Capability
from misiva.web import routes_ops_audience, routes_ops_integration
from misiva.web.access import Visit, posted, visit
from misiva.web.deps import web_deps
from misiva.web.forms import Form, checked_form, expired_form
from misiva.web.i18n import N_
from misiva.web.ops_pages import after_change, notice, refresh_server
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
router.include_router(routes_ops_integration.router)
router.include_router(routes_ops_audience.router)

_TOKEN_NOTICES = {"revoked": N_("The token was revoked: the API refuses it from now on.")}
_STREAM_NOTICES = {
    "created": N_("The stream was created."),
    "edited": N_("The stream was saved."),
    "archived": N_("The stream was archived: it takes no more sends."),
    "unarchived": N_("The stream takes sends again."),
}
STREAM_TYPES = {
    StreamType.TRANSACTIONAL.value: N_("Transactional"),
    StreamType.BROADCASTS.value: N_("Broadcasts"),
    StreamType.INBOUND.value: N_("Inbound"),
}
TRACK_LINKS = {
    TrackLinks.NONE.value: N_("No link tracking"),
    TrackLinks.HTML_AND_TEXT.value: N_("HTML and text"),
    TrackLinks.HTML_ONLY.value: N_("HTML only"),
    TrackLinks.TEXT_ONLY.value: N_("Text only"),
}
_BAD_SHARE = N_(
    "The largest share of a message for content blocks is a whole number from 0 to 100 "
    "(empty: the default)."
)


# --- API tokens -------------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/tokens")
async def tokens(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    return await _tokens_page(request, got, new_token=None)


@router.post("/ui/servers/{server_id}/tokens")
async def create_token(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    if await checked_form(request, got.csrf) is None:
        return expired_form()
    deps = web_deps(request)
    made = await server_admin.create_token(deps.db, server_id, clock=deps.clock)
    await audit.record(
        deps.db, got.user, "token.create", f"token {made.info.id}", server_id=server_id
    )
    # No redirect: the answer to this post is the only place the token is ever shown.
    return await _tokens_page(request, got, new_token=made)


@router.post("/ui/servers/{server_id}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, server_id: int, token_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    if await checked_form(request, got.csrf) is None:
        return expired_form()
    deps = web_deps(request)
    try:
        token_hash = await server_admin.revoke_token(deps.db, server_id, token_id)
    except MisivaError as error:
        return await _tokens_page(request, got, new_token=None, error=error.message, status=404)
    deps.directory.forget(token_hash)
    await audit.record(deps.db, got.user, "token.revoke", f"token {token_id}", server_id=server_id)
    return after_change(server_id, "tokens", "revoked")


async def _tokens_page(
    request: Request,
    got: Visit,
    *,
    new_token: server_admin.NewToken | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    found = await server_admin.list_tokens(web_deps(request).db, got.server.id)
    return page(
        "operations/tokens.html",
        got.user.locale,
        status,
        **got.context("tokens"),
        tokens=found,
        new_token=new_token,
        error=error,
        notice=notice(request, _TOKEN_NOTICES, got.user.locale),
    )


# --- Message streams --------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/streams")
async def streams(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    return await _streams_page(request, got)


@router.post("/ui/servers/{server_id}/streams")
async def create_stream(request: Request, server_id: int) -> Response:
    got, form = await _stream_form(request, server_id)
    if isinstance(got, Response):
        return got
    assert form is not None
    deps = web_deps(request)
    fields = {
        "ID": form.get("stream_id").strip(),
        "Name": form.get("name"),
        "MessageStreamType": form.get("type"),
        "Description": form.get("description"),
    }
    try:
        stream = await stream_admin.create_stream(deps.db, server_id, fields, clock=deps.clock)
    except MisivaError as error:
        return await _streams_page(request, got, error=error.message, form=fields, status=422)
    await refresh_server(deps, server_id)
    await audit.record(
        deps.db,
        got.user,
        "stream.create",
        stream.stream_id,
        server_id=server_id,
        details={"type": stream.stream_type.value, "name": stream.name},
    )
    return after_change(server_id, "streams", "created")


@router.post("/ui/servers/{server_id}/streams/{stream_id}")
async def edit_stream(request: Request, server_id: int, stream_id: str) -> Response:
    got, form = await _stream_form(request, server_id)
    if isinstance(got, Response):
        return got
    assert form is not None
    deps = web_deps(request)
    share = form.get("max_block_share").strip()
    if share and not (share.isdecimal() and int(share) <= 100):
        return await _streams_page(request, got, error=_BAD_SHARE, status=422)
    fields: dict[str, Any] = {
        "Name": form.get("name"),
        # An emptied description clears it (the API's null would leave it as it is).
        "Description": form.get("description") or None,
        "TrackOpens": form.get("track_opens") == "on",
        "TrackLinks": form.get("track_links"),
        # Empty: the default. A Broadcasts stream's form has no such field, and null is
        # what such a stream holds.
        "MaxBlockShare": int(share) if share else None,
    }
    try:
        stream = await stream_admin.update_stream(
            deps.db, server_id, stream_id, fields, clock=deps.clock
        )
    except MisivaError as error:
        return await _streams_page(request, got, error=error.message, status=422)
    await refresh_server(deps, server_id)
    await audit.record(
        deps.db,
        got.user,
        "stream.edit",
        stream.stream_id,
        server_id=server_id,
        details={
            "name": stream.name,
            "track_opens": str(stream.track_opens).lower(),
            "track_links": stream.track_links,
            "max_block_share": (
                "default" if stream.max_block_share is None else str(stream.max_block_share)
            ),
        },
    )
    return after_change(server_id, "streams", "edited")


@router.post("/ui/servers/{server_id}/streams/{stream_id}/archive")
async def archive_stream(request: Request, server_id: int, stream_id: str) -> Response:
    return await _archive(request, server_id, stream_id, archive=True)


@router.post("/ui/servers/{server_id}/streams/{stream_id}/unarchive")
async def unarchive_stream(request: Request, server_id: int, stream_id: str) -> Response:
    return await _archive(request, server_id, stream_id, archive=False)


async def _archive(request: Request, server_id: int, stream_id: str, *, archive: bool) -> Response:
    got, _form = await _stream_form(request, server_id)
    if isinstance(got, Response):
        return got
    deps = web_deps(request)
    change = stream_admin.archive_stream if archive else stream_admin.unarchive_stream
    try:
        await change(deps.db, server_id, stream_id, clock=deps.clock)
    except MisivaError as error:
        return await _streams_page(request, got, error=error.message, status=422)
    await refresh_server(deps, server_id)
    action = "stream.archive" if archive else "stream.unarchive"
    await audit.record(deps.db, got.user, action, stream_id, server_id=server_id)
    return after_change(server_id, "streams", "archived" if archive else "unarchived")


async def _stream_form(request: Request, server_id: int) -> tuple[Visit | Response, Form | None]:
    """A change to streams: developers and owners only, with the session's CSRF token."""
    got = await posted(request, server_id, Capability.MANAGE_INTEGRATION)
    return (got, None) if isinstance(got, Response) else got


async def _streams_page(
    request: Request,
    got: Visit,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    found = await stream_admin.list_streams(web_deps(request).db, got.server.id, None, True)
    return page(
        "operations/streams.html",
        got.user.locale,
        status,
        **got.context("streams"),
        streams=found,
        may_change=got.user.can(Capability.MANAGE_INTEGRATION),
        stream_types=STREAM_TYPES,
        track_links=TRACK_LINKS,
        default_block_share=DEFAULT_MAX_BLOCK_SHARE_PERCENT,
        error=error,
        form=form or {},
        notice=notice(request, _STREAM_NOTICES, got.user.locale),
    )
