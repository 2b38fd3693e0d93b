"""Activity: search a server's messages, and one message's page with its whole timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.domain.records import StoredEvent, StoredMessage
from misiva.domain.users import Capability, User
from misiva.mail.mime import extract_bodies
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store
from misiva.storage import templates as template_store
from misiva.storage.search import search_messages
from misiva.web.access import not_found, signed_in, visit
from misiva.web.activity_filters import PAGE_SIZE, read_filters
from misiva.web.deps import web_deps
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
# A server has a handful of templates; a select of more than this would be unusable anyway.
_MAX_TEMPLATES = 500
# What each kind of event says beyond its type, in the order worth showing.
_DETAIL_KEYS = ("reply", "diagnostic", "original_link", "client_name", "via", "host")


@dataclass(frozen=True, slots=True)
class _Line:
    kind: str
    at: datetime
    recipient: str
    detail: str


@router.get("/ui/servers/{server_id}/messages")
async def messages(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    async with web_deps(request).db.reading() as tx:
        _, templates = await template_store.list_templates(tx, server_id, limit=_MAX_TEMPLATES)
        streams = await stream_store.list_streams(tx, server_id)
        filters = read_filters(
            request.query_params, [t.id for t in templates], [s.stream_id for s in streams]
        )
        total, found = 0, list[StoredMessage]()
        if not filters.errors:
            total, found = await search_messages(
                tx, server_id, filters.query, limit=PAGE_SIZE, offset=filters.offset
            )
    path = f"/ui/servers/{server_id}/messages"
    last_page = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return page(
        "messages.html",
        got.user.locale,
        200,
        **got.context("messages"),
        filters=filters,
        templates=templates,
        streams=streams,
        total=total,
        messages=found,
        page_number=filters.page,
        last_page=last_page,
        previous_url=filters.url(path, filters.page - 1) if filters.page > 1 else None,
        next_url=filters.url(path, filters.page + 1) if filters.page < last_page else None,
    )


@router.get("/ui/messages/{message_id}")
async def message(request: Request, message_id: str) -> Response:
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    user = session.user
    async with web_deps(request).db.reading() as tx:
        found = await message_store.get_message(tx, message_id)
        if found is None or not _may_read(user, found.server_id):
            # The same answer for "no such message" and "not yours": ids reveal nothing.
            return not_found(session)
        server = await server_store.get_server(tx, found.server_id)
        events = await event_store.list_events(tx, found.id)
    text, html = extract_bodies(found.mime) if found.mime else (None, None)
    return page(
        "message.html",
        user.locale,
        user=user,
        csrf=session.csrf_token,
        server=server,
        section="messages",
        message=found,
        events=[_line(e) for e in events],
        text=text,
        html=html,
        raw=found.mime.decode("utf-8", "replace"),
    )


def _may_read(user: User, server_id: int) -> bool:
    return user.can(Capability.READ) and user.may_see_server(server_id)


def _line(event: StoredEvent) -> _Line:
    detail = " · ".join(event.details[k] for k in _DETAIL_KEYS if event.details.get(k))
    return _Line(event.type.value, event.created_at, event.recipient, detail)
