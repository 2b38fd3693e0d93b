"""Postmark's Bounces and Suppressions APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.accounts.suppressions import (
    SuppressionResult,
    activate_bounce,
    add_suppressions,
    delete_suppressions,
)
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import BigRowId
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.bounces import BounceType
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.records import Bounce
from misiva.storage import bounces as bounce_store
from misiva.storage import suppressions as suppression_store
from misiva.storage.bounces import BounceQuery

router = APIRouter(tags=["bounces and suppressions"])


def bounce_json(bounce: Bounce) -> dict[str, Any]:
    kind = BounceType(bounce.type)
    return {
        "ID": bounce.id,
        "Type": kind.value,
        "TypeCode": kind.type_code,
        "Name": kind.display_name,
        "Tag": bounce.tag or "",
        "MessageID": bounce.message_id or "",
        "ServerID": bounce.server_id,
        "MessageStream": bounce.stream,
        "Description": kind.description,
        "Details": bounce.details,
        "Email": bounce.email,
        "From": bounce.sender,
        "BouncedAt": bounce.bounced_at.isoformat(),
        "DumpAvailable": bounce.dump_available,
        "Inactive": bounce.inactive,
        "CanActivate": bounce.can_activate,
        "Subject": bounce.subject,
    }


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def _query(request: Request) -> dict[str, str]:
    """Query names as clients send them (count/Count, messageID/messageid): case-insensitive."""
    return {k.lower(): v for k, v in request.query_params.items()}


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"Invalid date {value!r}.", ErrorCode.BOUNCE_QUERY) from None


def _paging(query: dict[str, str], required: bool) -> tuple[int, int]:
    try:
        count, offset = int(query.get("count", "100")), int(query.get("offset", "0"))
    except ValueError:
        raise InvalidRequest("count and offset must be numbers.", ErrorCode.BOUNCE_QUERY) from None
    if required and ("count" not in query or "offset" not in query):
        raise InvalidRequest(
            "The 'count' and 'offset' parameters are required.", ErrorCode.BOUNCE_QUERY
        )
    if not 0 < count <= 500 or offset < 0 or count + offset > 10_000:
        raise InvalidRequest(
            "count must be 1 to 500, and count + offset at most 10,000.", ErrorCode.BOUNCE_QUERY
        )
    return count, offset


@router.get("/bounces", summary="Search bounces, newest first")
async def list_bounces(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    q = _query(request)
    count, offset = _paging(q, required="messageid" not in q)
    inactive = {"true": True, "false": False}.get(q.get("inactive", "").lower())
    query = BounceQuery(
        type=q.get("type") or None,
        inactive=inactive,
        email_filter=q.get("emailfilter") or None,
        tag=q.get("tag") or None,
        message_id=q.get("messageid") or None,
        stream=q.get("messagestream") or None,
        since=_date(q.get("fromdate")),
        until=_date(q.get("todate")),
    )
    async with deps_of(request).db.transaction() as tx:
        total, found = await bounce_store.list_bounces(
            tx, _server_id(who), query, limit=count, offset=offset
        )
    return JSONResponse({"TotalCount": total, "Bounces": [bounce_json(b) for b in found]})


@router.get("/deliverystats", summary="Counts of inactive addresses and bounces by type")
async def delivery_stats(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.transaction() as tx:
        counts = await bounce_store.counts_by_type(tx, _server_id(who))
        total_inactive, _ = await bounce_store.list_bounces(
            tx, _server_id(who), BounceQuery(inactive=True), limit=1, offset=0
        )
    rows = [{"Name": "All", "Count": sum(counts.values())}]
    rows += [
        {"Type": t, "Name": BounceType(t).display_name, "Count": n}
        for t, n in sorted(counts.items())
    ]
    return JSONResponse({"InactiveMails": total_inactive, "Bounces": rows})


@router.get("/bounces/{bounce_id}", summary="One bounce")
async def get_bounce(
    request: Request, bounce_id: BigRowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.transaction() as tx:
        bounce = await bounce_store.get_bounce(tx, _server_id(who), bounce_id)
    if bounce is None:
        raise NotFound("The bounce was not found.", ErrorCode.BOUNCE_NOT_FOUND)
    return JSONResponse(bounce_json(bounce))


@router.get("/bounces/{bounce_id}/dump", summary="The raw returned message")
async def bounce_dump(
    request: Request, bounce_id: BigRowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.transaction() as tx:
        dump = await bounce_store.get_dump(tx, _server_id(who), bounce_id)
    return JSONResponse({"Body": dump.decode("utf-8", errors="replace") if dump else ""})


@router.put("/bounces/{bounce_id}/activate", summary="Reactivate a bounced address")
async def activate(
    request: Request, bounce_id: BigRowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    bounce = await activate_bounce(deps_of(request).db, _server_id(who), bounce_id)
    return JSONResponse({"Message": "OK", "Bounce": bounce_json(bounce)})


@router.get("/message-streams/{stream}/suppressions/dump", summary="A stream's suppressions")
async def dump_suppressions(
    request: Request, stream: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    q = _query(request)
    async with deps_of(request).db.transaction() as tx:
        found = await suppression_store.dump(
            tx,
            _server_id(who),
            stream,
            reason=q.get("suppressionreason") or None,
            origin=q.get("origin") or None,
            email=q.get("emailaddress") or None,
            since=_date(q.get("fromdate")),
            until=_date(q.get("todate")),
        )
    return JSONResponse(
        {
            "Suppressions": [
                {
                    "EmailAddress": s.email,
                    "SuppressionReason": s.reason,
                    "Origin": s.origin,
                    "CreatedAt": s.created_at.isoformat(),
                }
                for s in found
            ]
        }
    )


async def _emails(request: Request) -> list[str]:
    body = await read_json(request, 1024 * 1024)
    items = body.get("Suppressions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest('The body must be {"Suppressions": [{"EmailAddress": ...}]}.')
    return [str(i.get("EmailAddress") or "") for i in items]


@router.post("/message-streams/{stream}/suppressions", summary="Suppress addresses")
async def create_suppressions(
    request: Request, stream: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    emails = await _emails(request)
    return _results(await add_suppressions(deps_of(request).db, _server_id(who), stream, emails))


@router.post("/message-streams/{stream}/suppressions/delete", summary="Reactivate addresses")
async def remove_suppressions(
    request: Request, stream: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    emails = await _emails(request)
    return _results(await delete_suppressions(deps_of(request).db, _server_id(who), stream, emails))


def _results(results: list[SuppressionResult]) -> JSONResponse:
    return JSONResponse(
        {
            "Suppressions": [
                {"EmailAddress": r.email, "Status": r.status, "Message": r.message} for r in results
            ]
        }
    )
