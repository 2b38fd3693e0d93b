"""Postmark's Messages search, opens and clicks, and outbound statistics."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.presenters import message_summary
from misiva.api.responses import JSONResponse
from misiva.domain.enums import ErrorCode, EventType
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.records import StoredEvent
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import search
from misiva.storage.search import MessageQuery, StatsQuery

router = APIRouter(tags=["messages and statistics"])
MESSAGES_QUERY = 700


def _q(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.query_params.items()}


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"Invalid date {value!r}.", MESSAGES_QUERY) from None


def _paging(q: dict[str, str]) -> tuple[int, int]:
    try:
        count, offset = int(q["count"]), int(q.get("offset", "0"))
    except (KeyError, ValueError):
        raise InvalidRequest(
            "The 'count' and 'offset' parameters are required.", MESSAGES_QUERY
        ) from None
    if not 0 < count <= 500 or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest("count must be 1 to 500 and offset 0 or more.", MESSAGES_QUERY)
    return count, offset


@router.get("/messages/outbound", summary="Search sent messages, newest first")
async def outbound(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    q = _q(request)
    count, offset = _paging(q)
    query = MessageQuery(
        recipient=q.get("recipient"),
        from_email=q.get("fromemail"),
        tag=q.get("tag"),
        status=q.get("status"),
        since=_date(q.get("fromdate")),
        until=_date(q.get("todate")),
        subject=q.get("subject"),
        stream=q.get("messagestream"),
        metadata={
            k.removeprefix("metadata_"): v
            for k, v in request.query_params.items()
            if k.lower().startswith("metadata_")
        },
    )
    async with deps_of(request).db.transaction() as tx:
        total, found = await search.search_messages(
            tx, _server_id(who), query, limit=count, offset=offset
        )
    return JSONResponse({"TotalCount": total, "Messages": [message_summary(m) for m in found]})


def _reader(event: StoredEvent) -> dict[str, Any]:
    d = event.details
    return {
        "RecordType": "Open" if event.type is EventType.OPENED else "Click",
        "MessageID": event.message_id,
        "Recipient": event.recipient,
        "ReceivedAt": event.created_at.isoformat(),
        "UserAgent": d.get("user_agent", ""),
        "Platform": d.get("platform", "Unknown"),
        "Geo": {},
        "Client": {
            "Name": d.get("client_name", ""),
            "Company": d.get("client_company", ""),
            "Family": d.get("client_family", ""),
        },
        "OS": {
            "Name": d.get("os_name", ""),
            "Company": d.get("os_company", ""),
            "Family": d.get("os_family", ""),
        },
    }


async def _activity(
    request: Request, who: Caller, kind: EventType, message_id: str | None
) -> JSONResponse:
    q = _q(request)
    count, offset = _paging(q)
    async with deps_of(request).db.transaction() as tx:
        if message_id and await message_store.get_message(tx, message_id, _server_id(who)) is None:
            raise NotFound("This message was not found.", ErrorCode.MESSAGE_NOT_FOUND)
        total, found = await event_store.list_server_events(
            tx,
            _server_id(who),
            kind,
            message_id=message_id,
            recipient=q.get("recipient"),
            limit=count,
            offset=offset,
        )
    key = "Opens" if kind is EventType.OPENED else "Clicks"
    items = []
    for event in found:
        item = _reader(event)
        if kind is EventType.OPENED:
            item |= {"FirstOpen": event.details.get("first_open") == "true", "ReadSeconds": 0}
        else:
            item |= {
                "OriginalLink": event.details.get("original_link", ""),
                "ClickLocation": event.details.get("click_location", "HTML"),
            }
        items.append(item)
    return JSONResponse({"TotalCount": total, key: items})


@router.get("/messages/outbound/opens", summary="Opens")
async def opens(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    return await _activity(request, who, EventType.OPENED, None)


@router.get("/messages/outbound/opens/{message_id}", summary="Opens of one message")
async def opens_of(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return await _activity(request, who, EventType.OPENED, message_id)


@router.get("/messages/outbound/clicks", summary="Clicks")
async def clicks(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    return await _activity(request, who, EventType.CLICKED, None)


@router.get("/messages/outbound/clicks/{message_id}", summary="Clicks of one message")
async def clicks_of(
    request: Request, message_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return await _activity(request, who, EventType.CLICKED, message_id)


def _stats_query(request: Request) -> StatsQuery:
    q = _q(request)
    return StatsQuery(
        tag=q.get("tag"),
        stream=q.get("messagestream"),
        since=_date(q.get("fromdate")),
        until=_date(q.get("todate")),
    )


_REPORTS = {
    "sends": ([EventType.DELIVERED], "Sent"),
    "bounces": ([EventType.BOUNCED], "Bounced"),
    "spam": ([EventType.COMPLAINED], "SpamComplaint"),
    "opens": ([EventType.OPENED], "Opens"),
    "clicks": ([EventType.CLICKED], "Clicks"),
}


@router.get("/stats/outbound", summary="Outbound overview")
async def overview(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    q = _stats_query(request)
    async with deps_of(request).db.transaction() as tx:
        rows = await search.event_days(
            tx,
            _server_id(who),
            q,
            [
                EventType.DELIVERED,
                EventType.BOUNCED,
                EventType.COMPLAINED,
                EventType.OPENED,
                EventType.CLICKED,
            ],
        )
    count = Counter(kind for _, kind, _, _ in rows)
    unique_opens = len({(m, r) for _, k, r, m in rows if k == EventType.OPENED.value})
    sent = count[EventType.DELIVERED.value] + count[EventType.BOUNCED.value]

    def rate(n: int) -> float:
        return round(100 * n / sent, 2) if sent else 0.0

    return JSONResponse(
        {
            "Sent": sent,
            "Bounced": count[EventType.BOUNCED.value],
            "SMTPApiErrors": 0,
            "BounceRate": rate(count[EventType.BOUNCED.value]),
            "SpamComplaints": count[EventType.COMPLAINED.value],
            "SpamComplaintsRate": rate(count[EventType.COMPLAINED.value]),
            "Opens": count[EventType.OPENED.value],
            "UniqueOpens": unique_opens,
            "TotalClicks": count[EventType.CLICKED.value],
            "UniqueLinksClicked": count[EventType.CLICKED.value],
        }
    )


@router.get("/stats/outbound/{report}", summary="Daily counts: sends, bounces, spam, opens, clicks")
async def daily(
    request: Request, report: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    if report.lower() not in _REPORTS:
        raise NotFound(f"No statistics report {report!r}.", 900)
    types, label = _REPORTS[report.lower()]
    async with deps_of(request).db.transaction() as tx:
        rows = await search.event_days(tx, _server_id(who), _stats_query(request), types)
    per_day: dict[str, int] = defaultdict(int)
    for day, _, _, _ in rows:
        per_day[day] += 1
    days = [{"Date": day, label: n} for day, n in sorted(per_day.items())]
    return JSONResponse({"Days": days, label: len(rows)})


@router.get("/stats/outbound/opens/{breakdown}", summary="Opens by platform or email client")
async def opens_by(
    request: Request, breakdown: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    key = {"platforms": "platform", "emailclients": "client_name"}.get(breakdown.lower())
    if key is None:
        raise NotFound(f"No opens breakdown {breakdown!r}.", 900)
    async with deps_of(request).db.transaction() as tx:
        counts = await search.event_details(
            tx, _server_id(who), _stats_query(request), EventType.OPENED, key
        )
    return JSONResponse({"Days": [], **dict(counts.most_common())})
