"""Events over HTTP (Misiva's own API; docs/automation.md): report what happened, one event or
a batch of up to 500, each accepted in the request's one commit; read an event with what its
rules did and the messages it produced; list a server's events and a contact's history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from misiva.accounts.contacts import contact_from_fields
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.automation.events import Accepted, Events, EventView, NewEvent, new_event, parse_moment
from misiva.domain.automation import AppEvent, RuleOutcome, ScheduledMessage
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError
from misiva.domain.message import MAX_BATCH, MAX_BATCH_BYTES
from misiva.domain.records import Server
from misiva.ingest.templated import contact_namespace

router = APIRouter(tags=["automation"])
# An event's data is a template model: the size of a message's, not of an attachment's.
MAX_EVENT_BYTES = 512 * 1024
_FIELDS = frozenset({"Name", "Email", "Data", "Contact", "EventID", "OccurredAt"})


def _server(who: Caller) -> Server:
    assert who.context is not None
    return who.context.server


def _service(request: Request) -> Events:
    deps = deps_of(request)
    return Events(deps.db, contact_namespace, clock=deps.clock)


def rule_json(outcome: RuleOutcome) -> dict[str, Any]:
    return {
        "TriggerKey": outcome.trigger_key,
        "Version": outcome.version,
        "Outcome": outcome.outcome.value,
        "Reason": outcome.reason,
        "ScheduledMessageID": outcome.scheduled_id,
        "SendAt": outcome.send_at.isoformat() if outcome.send_at else None,
    }


def event_json(event: AppEvent) -> dict[str, Any]:
    return {
        "EventID": event.event_id,
        "Name": event.name,
        "Email": event.email,
        "Data": event.data,
        "OccurredAt": event.occurred_at.isoformat(),
        "ReceivedAt": event.received_at.isoformat(),
        "Rules": [rule_json(o) for o in event.outcomes],
    }


def message_json(message: ScheduledMessage, keys: dict[str, str]) -> dict[str, Any]:
    return {
        "MessageID": message.id,
        "TriggerKey": keys.get(message.id),
        "TriggerVersion": message.trigger_version,
        "Status": message.status.value,
        "SendAt": message.send_at.isoformat(),
        "MessageStream": message.stream,
        "Error": message.error,
    }


def event_view_json(view: EventView) -> dict[str, Any]:
    keys = {o.scheduled_id: o.trigger_key for o in view.event.outcomes if o.scheduled_id}
    return {**event_json(view.event), "Messages": [message_json(m, keys) for m in view.messages]}


def _accepted_json(accepted: Accepted) -> dict[str, Any]:
    event = accepted.event
    return {
        "ErrorCode": ErrorCode.OK,
        "Message": "OK",
        "EventID": event.event_id,
        "Name": event.name,
        "Email": event.email,
        "OccurredAt": event.occurred_at.isoformat(),
        "Duplicate": accepted.duplicate,
        "Rules": [rule_json(o) for o in event.outcomes],
        "CancelledMessageIDs": list(accepted.cancelled),
    }


def parse_event(body: Any, server_id: int, events: Events) -> NewEvent:
    """One event from its JSON; `Contact` holds profile fields named as for POST /contacts."""
    if not isinstance(body, dict):
        raise InvalidRequest("An event must be a JSON object with a Name and an Email.")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequest(
            f"Unknown field {unknown[0]!r}; an event has {', '.join(sorted(_FIELDS))}."
        )
    contact = None
    given = body.get("Contact")
    if given is not None:
        if not isinstance(given, dict):
            raise InvalidRequest("'Contact' must be a JSON object of profile fields.")
        fields = {k: v for k, v in given.items() if k.lower() != "email"}
        contact = contact_from_fields(server_id, {**fields, "Email": body.get("Email")})
    return new_event(
        name=body.get("Name"),
        email=body.get("Email"),
        data=body.get("Data"),
        event_id=body.get("EventID"),
        occurred_at=body.get("OccurredAt"),
        contact=contact,
        now=events.now,
    )


def _parsed(body: Any, server_id: int, events: Events) -> NewEvent | MisivaError:
    try:
        return parse_event(body, server_id, events)
    except MisivaError as error:
        return error


async def _accept(
    request: Request, server: Server, items: list[NewEvent | MisivaError]
) -> list[Accepted | MisivaError]:
    """Accept the good items in one commit; each bad one keeps its error in its place."""
    good = [i for i in items if isinstance(i, NewEvent)]
    done = iter(await _service(request).accept(server, good))
    results = [next(done) if isinstance(i, NewEvent) else i for i in items]
    if any(isinstance(r, Accepted) and r.due_now for r in results):
        # After the commit: a rule's "send at once" leaves now, not at the next pass.
        deps_of(request).release_scheduled()
    return results


@router.post("/events", summary="Report an event (runs the triggers listening to its name)")
async def post_event(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    server = _server(who)
    item = parse_event(await read_json(request, MAX_EVENT_BYTES), server.id, _service(request))
    [accepted] = await _accept(request, server, [item])
    assert isinstance(accepted, Accepted)
    return JSONResponse(_accepted_json(accepted))


@router.post("/events/batch", summary="Report up to 500 events (one result each, in order)")
async def post_events(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    payload = await read_json(request, MAX_BATCH_BYTES)
    if not isinstance(payload, list):
        raise InvalidRequest(
            "The batch must be a JSON array of events.", ErrorCode.INCOMPATIBLE_JSON
        )
    if len(payload) > MAX_BATCH:
        raise InvalidRequest(
            f"The batch has {len(payload)} events; at most {MAX_BATCH} are allowed.",
            ErrorCode.TOO_MANY_BATCH_MESSAGES,
        )
    server, events = _server(who), _service(request)
    results = await _accept(request, server, [_parsed(b, server.id, events) for b in payload])
    return JSONResponse(
        [
            _accepted_json(r)
            if isinstance(r, Accepted)
            else {"ErrorCode": r.error_code, "Message": r.message}
            for r in results
        ]
    )


Count = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.get("/events", summary="A server's events, newest first (name, email, since)")
async def list_events(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    count: Count = 100,
    offset: Offset = 0,
    name: Annotated[str | None, Query(max_length=100)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    total, found = await _service(request).search(
        _server(who).id,
        name=name or None,
        email=email or None,
        since=parse_moment(since, "since"),
        limit=count,
        offset=offset,
    )
    return JSONResponse({"TotalCount": total, "Events": [event_json(e) for e in found]})


@router.get("/events/{event_id:path}", summary="One event: its rules' outcomes and messages")
async def get_event(
    request: Request, event_id: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(event_view_json(await _service(request).get(_server(who).id, event_id)))


@router.get("/contacts/{email}/events", summary="A contact's events, newest first")
async def contact_events(
    request: Request,
    email: str,
    who: Annotated[Caller, Depends(server_caller)],
    count: Count = 100,
    offset: Offset = 0,
) -> JSONResponse:
    total, found = await _service(request).history(
        _server(who).id, email, limit=count, offset=offset
    )
    return JSONResponse({"TotalCount": total, "Events": [event_json(e) for e in found]})
