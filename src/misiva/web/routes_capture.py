"""The capture inbox: the messages a `capture` route kept instead of sending, per server."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.domain.users import Capability
from misiva.mail.mime import extract_bodies
from misiva.storage import capture as capture_store
from misiva.web.access import not_found, visit
from misiva.web.deps import web_deps
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
# Far past any real inbox, and it keeps a typed page number from overflowing an OFFSET.
_MAX_PAGE = 100_000


@router.get("/ui/servers/{server_id}/capture")
async def inbox(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    params = request.query_params
    recipient = (params.get("recipient") or "").strip()
    subject = (params.get("subject") or "").strip()
    number = _page(params.get("page"))
    async with web_deps(request).db.reading() as tx:
        total, found = await capture_store.search_captured(
            tx,
            server_id,
            recipient=recipient or None,
            subject=subject or None,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
    last_page = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    search = [(k, v) for k, v in (("recipient", recipient), ("subject", subject)) if v]

    def at(number: int) -> str:
        return f"/ui/servers/{server_id}/capture?{urlencode([*search, ('page', number)])}"

    return page(
        "capture.html",
        got.user.locale,
        200,
        **got.context("capture"),
        recipient=recipient,
        subject=subject,
        total=total,
        captured=found,
        page_number=number,
        last_page=last_page,
        previous_url=at(number - 1) if number > 1 else None,
        next_url=at(number + 1) if number < last_page else None,
    )


@router.get("/ui/servers/{server_id}/capture/{captured_id}")
async def captured(request: Request, server_id: int, captured_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    async with web_deps(request).db.reading() as tx:
        found = await capture_store.get_captured(tx, server_id, captured_id)
    if found is None:
        return not_found(got.session)
    message, subject = found
    text, html = extract_bodies(message.mime)
    return page(
        "capture-message.html",
        got.user.locale,
        200,
        **got.context("capture"),
        captured=message,
        subject=subject,
        text=text,
        html=html,
        raw=message.mime.decode("utf-8", "replace"),
    )


def _page(value: str | None) -> int:
    if value and value.isascii() and value.isdigit() and len(value) <= 9:
        return min(max(int(value), 1), _MAX_PAGE)
    return 1
