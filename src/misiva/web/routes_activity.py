"""Activity: search a server's messages, and one message's page with its whole timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.domain.records import StoredEvent
from misiva.domain.users import Capability, User
from misiva.mail.mime import extract_bodies
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import servers as server_store
from misiva.storage.search import MessageQuery, search_messages
from misiva.web.deps import current_session, web_deps
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
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
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    user = session.user
    params = request.query_params
    query = MessageQuery(
        recipient=params.get("recipient") or None,
        subject=params.get("subject") or None,
        tag=params.get("tag") or None,
    )
    async with web_deps(request).db.reading() as tx:
        server = await server_store.get_server(tx, server_id)
        if server is None or not _may_read(user, server_id):
            return page("not-found.html", user.locale, 404, user=user, csrf=session.csrf_token)
        total, found = await search_messages(tx, server_id, query, limit=PAGE_SIZE, offset=0)
    return page(
        "messages.html",
        user.locale,
        user=user,
        csrf=session.csrf_token,
        server=server,
        query=query,
        total=total,
        messages=found,
    )


@router.get("/ui/messages/{message_id}")
async def message(request: Request, message_id: str) -> Response:
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    user = session.user
    async with web_deps(request).db.reading() as tx:
        found = await message_store.get_message(tx, message_id)
        if found is None or not _may_read(user, found.server_id):
            # The same answer for "no such message" and "not yours": ids reveal nothing.
            return page("not-found.html", user.locale, 404, user=user, csrf=session.csrf_token)
        events = await event_store.list_events(tx, found.id)
    text, html = extract_bodies(found.mime) if found.mime else (None, None)
    return page(
        "message.html",
        user.locale,
        user=user,
        csrf=session.csrf_token,
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
