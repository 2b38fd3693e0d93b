"""GET /messages/outbound/{id}/details and /dump: a message and its timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.presenters import message_details
from misiva.api.responses import JSONResponse
from misiva.domain.errors import NotFound
from misiva.domain.records import StoredEvent, StoredMessage
from misiva.storage import events as event_store
from misiva.storage import messages as message_store

router = APIRouter(tags=["messages"])

MESSAGE_NOT_FOUND = "This message was not found."


async def _load(
    request: Request, who: Caller, message_id: str
) -> tuple[StoredMessage, list[StoredEvent]]:
    assert who.context is not None
    async with deps_of(request).db.transaction() as tx:
        message = await message_store.get_message(tx, message_id, who.context.server.id)
        if message is None:
            raise NotFound(MESSAGE_NOT_FOUND)
        return message, await event_store.list_events(tx, message.id)


@router.get("/messages/outbound/{message_id}/details", summary="A message with its events")
async def details(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    message, events = await _load(request, who, message_id)
    return JSONResponse(message_details(message, events))


@router.get("/messages/outbound/{message_id}/dump", summary="The raw MIME of a message")
async def dump(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    message, _events = await _load(request, who, message_id)
    return JSONResponse({"Body": message.mime.decode("utf-8", errors="replace")})
