"""Postmark's Message Streams API, with Misiva's subscription settings and content-block share
on each stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.accounts import streams as stream_admin
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.errors import InvalidRequest
from misiva.domain.records import Stream
from misiva.ingest.tenants import ServerContext

router = APIRouter(tags=["message streams"])


def stream_json(stream: Stream) -> dict[str, Any]:
    settings = stream.subscriptions
    purge = stream_admin.expected_purge_date(stream)
    return {
        "ID": stream.stream_id,
        "ServerID": stream.server_id,
        "Name": stream.name,
        "Description": stream.description,
        "MessageStreamType": stream.stream_type.value,
        "CreatedAt": stream.created_at.isoformat() if stream.created_at else None,
        "UpdatedAt": stream.updated_at.isoformat() if stream.updated_at else None,
        "ArchivedAt": stream.archived_at.isoformat() if stream.archived_at else None,
        "ExpectedPurgeDate": purge.isoformat() if purge else None,
        "SubscriptionManagementConfiguration": {
            "UnsubscribeHandlingType": settings.unsubscribe_handling.value
        },
        # Misiva: the tracking defaults of messages that do not say (Postmark keeps these
        # per server; here each stream has its own).
        "TrackOpens": stream.track_opens,
        "TrackLinks": stream.track_links,
        # Misiva: the largest share (percent) of a message's text that content blocks may
        # take on this stream; null is the default (30). Broadcasts streams have no limit.
        "MaxBlockShare": stream.max_block_share,
        # Misiva: confirmed opt-in and the notices sent about a subscription.
        "Subscriptions": {
            "RequireConfirmedOptIn": settings.require_opt_in,
            "ConfirmationTemplate": settings.opt_in_template,
            "ConfirmationExpiresHours": settings.opt_in_ttl_hours,
            "WelcomeTemplate": settings.welcome_template,
            "UnsubscribeConfirmationTemplate": settings.unsubscribe_template,
            "From": settings.notice_from,
            "NoticeStream": settings.notice_stream,
        },
    }


def _context(who: Caller) -> ServerContext:
    assert who.context is not None
    return who.context


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, 256 * 1024)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


async def _changed(request: Request, who: Caller, stream: Stream) -> Stream:
    """Sends read streams from the server's cached context: reload it so they see this now."""
    await deps_of(request).directory.refresh(_context(who))
    return stream


def _flag(value: str) -> bool:
    flag = {"true": True, "false": False}.get(value.lower())
    if flag is None:
        raise InvalidRequest(f"Invalid 'IncludeArchivedStreams' {value!r}: use true or false.")
    return flag


@router.get("/message-streams", summary="List message streams")
async def list_streams(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    # Clients spell query names differently (messageStreamType, MessageStreamType).
    query = {k.lower(): v for k, v in request.query_params.items()}
    found = await stream_admin.list_streams(
        deps_of(request).db,
        _context(who).server.id,
        query.get("messagestreamtype") or None,
        _flag(query.get("includearchivedstreams") or "false"),
    )
    return JSONResponse(
        {"MessageStreams": [stream_json(s) for s in found], "TotalCount": len(found)}
    )


@router.get("/message-streams/{stream_id}", summary="One message stream")
async def read(
    request: Request, stream_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    stream = await stream_admin.get_stream(deps_of(request).db, _context(who).server.id, stream_id)
    return JSONResponse(stream_json(stream))


@router.post("/message-streams", summary="Create a message stream")
async def create(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    deps = deps_of(request)
    stream = await stream_admin.create_stream(
        deps.db, _context(who).server.id, await _body(request), clock=deps.clock
    )
    return JSONResponse(stream_json(await _changed(request, who, stream)))


@router.patch("/message-streams/{stream_id}", summary="Edit a message stream")
async def edit(
    request: Request, stream_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    stream = await stream_admin.update_stream(
        deps.db, _context(who).server.id, stream_id, await _body(request), clock=deps.clock
    )
    return JSONResponse(stream_json(await _changed(request, who, stream)))


@router.post("/message-streams/{stream_id}/archive", summary="Archive a message stream")
async def archive(
    request: Request, stream_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    stream = await stream_admin.archive_stream(
        deps.db, _context(who).server.id, stream_id, clock=deps.clock
    )
    await _changed(request, who, stream)
    purge = stream_admin.expected_purge_date(stream)
    return JSONResponse(
        {
            "ID": stream.stream_id,
            "ServerID": stream.server_id,
            "ExpectedPurgeDate": purge.isoformat() if purge else None,
        }
    )


@router.post("/message-streams/{stream_id}/unarchive", summary="Unarchive a message stream")
async def unarchive(
    request: Request, stream_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    stream = await stream_admin.unarchive_stream(
        deps.db, _context(who).server.id, stream_id, clock=deps.clock
    )
    return JSONResponse(stream_json(await _changed(request, who, stream)))
