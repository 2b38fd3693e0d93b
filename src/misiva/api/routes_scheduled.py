"""Scheduled messages (Misiva's own API): what waits for its time, from a SendAt or a
trigger's delay; list, look at one, cancel one that still waits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.domain.automation import ScheduledMessage, ScheduledStatus
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.ingest.schedule import cancel_scheduled
from misiva.storage import scheduled as scheduled_store

router = APIRouter(tags=["scheduled messages"])

MAX_COUNT = 500
CANCELLED_BY_API = "Cancelled through the API."


def scheduled_json(message: ScheduledMessage) -> dict[str, Any]:
    fields = message.fields
    return {
        "MessageID": message.id,
        "Status": message.status.value,
        "SendAt": message.send_at.isoformat(),
        "Recipient": message.email,
        "From": fields.get("from_"),
        "To": fields.get("to"),
        "Subject": fields.get("subject"),
        "TemplateId": fields.get("template_id"),
        "TemplateAlias": fields.get("template_alias"),
        "Tag": fields.get("tag"),
        "MessageStream": message.stream,
        "TriggerID": message.trigger_id,
        "TriggerVersion": message.trigger_version,
        "AppEventID": message.app_event_id,
        "Attempts": message.attempts,
        "Error": message.error,
        "CreatedAt": message.created_at.isoformat(),
        "UpdatedAt": message.updated_at.isoformat(),
    }


def parse_status(value: str | None) -> ScheduledStatus | None:
    if not value:
        return None
    try:
        return ScheduledStatus(value.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in ScheduledStatus)
        raise InvalidRequest(f"Invalid status {value!r}: use one of {choices}.") from None


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def _paging(q: dict[str, str]) -> tuple[int, int]:
    try:
        count, offset = int(q.get("count", "100")), int(q.get("offset", "0"))
    except ValueError:
        raise InvalidRequest("count and offset must be whole numbers.") from None
    if not 0 < count <= MAX_COUNT or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest(f"count must be 1 to {MAX_COUNT} and offset 0 or more.")
    return count, offset


@router.get(
    "/scheduled-messages",
    summary="Scheduled messages, soonest first (filters: status, email, trigger)",
)
async def list_scheduled(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    q = dict(request.query_params)
    count, offset = _paging(q)
    status = parse_status(q.get("status"))
    email, trigger = q.get("email") or None, q.get("trigger") or None
    server_id = _server_id(who)
    async with deps_of(request).db.reading() as tx:
        total = await scheduled_store.count_scheduled(
            tx, server_id, status=status, email=email, trigger=trigger
        )
        found = await scheduled_store.list_scheduled(
            tx, server_id, status=status, email=email, trigger=trigger, limit=count, offset=offset
        )
    return JSONResponse(
        {"TotalCount": total, "ScheduledMessages": [scheduled_json(m) for m in found]}
    )


@router.get("/scheduled-messages/{message_id}", summary="One scheduled message")
async def get_scheduled(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.reading() as tx:
        found = await scheduled_store.get_scheduled(tx, _server_id(who), message_id)
    if found is None:
        raise NotFound(f"No scheduled message with ID {message_id!r} on this server.")
    return JSONResponse(scheduled_json(found))


@router.delete(
    "/scheduled-messages/{message_id}", summary="Cancel a scheduled message that still waits"
)
async def cancel(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    cancelled = await cancel_scheduled(
        deps.db, _server_id(who), message_id, CANCELLED_BY_API, deps.clock()
    )
    return JSONResponse(
        {
            "ErrorCode": 0,
            "Message": f"Scheduled message {cancelled.id} cancelled.",
            "ScheduledMessage": scheduled_json(cancelled),
        }
    )
