"""The capture inbox over HTTP: messages a `capture` route kept instead of sending."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.presenters import captured_summary
from misiva.api.responses import JSONResponse
from misiva.domain.errors import NotFound
from misiva.storage import capture as capture_store

router = APIRouter(tags=["capture inbox"])


@router.get("/capture/messages", summary="Captured messages, newest first")
async def list_captured(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    count: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    assert who.context is not None
    async with deps_of(request).db.transaction() as tx:
        total, found = await capture_store.list_captured(
            tx, server_id=who.context.server.id, limit=count, offset=offset
        )
    return JSONResponse({"TotalCount": total, "Messages": [captured_summary(c) for c in found]})


@router.get("/capture/messages/{message_id}", summary="A captured message, signed, as raw MIME")
async def get_captured(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    assert who.context is not None
    async with deps_of(request).db.transaction() as tx:
        found = await capture_store.get_captured_for_message(
            tx, message_id.lower(), who.context.server.id
        )
    if not found:
        raise NotFound("This message was not found in the capture inbox.")
    return JSONResponse(
        {**captured_summary(found[-1]), "Body": found[-1].mime.decode("utf-8", errors="replace")}
    )
