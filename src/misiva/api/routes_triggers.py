"""Triggers over HTTP (Misiva's own API; docs/automation.md): create, read, change into a new
version, pause, resume, delete, their versions, a dry run over stored events, and counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.api.trigger_schemas import (
    dry_run_json,
    parse_definition,
    stats_json,
    trigger_json,
    version_json,
)
from misiva.automation.dry_run import dry_run, period
from misiva.automation.events import parse_moment
from misiva.automation.stats import DEFAULT_PERIOD, trigger_stats
from misiva.automation.triggers import Changed, ScheduledPolicy, Triggers
from misiva.domain.automation import TriggerDefinition
from misiva.domain.errors import InvalidRequest
from misiva.domain.records import Server
from misiva.ingest.templated import contact_namespace

router = APIRouter(tags=["automation"])
_BODY_LIMIT = 64 * 1024
# The API has no user: versions it writes say so.
_AUTHOR = "api"


def _server(who: Caller) -> Server:
    assert who.context is not None
    return who.context.server


def _service(request: Request) -> Triggers:
    deps = deps_of(request)
    return Triggers(deps.db, clock=deps.clock)


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a request that may have no body at all (pause, resume)."""
    if not await request.body():
        return {}
    body = await read_json(request, _BODY_LIMIT)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _policy(request: Request, body: dict[str, Any]) -> ScheduledPolicy:
    given = body.get("Scheduled", request.query_params.get("Scheduled"))
    return ScheduledPolicy.parse(given or request.query_params.get("scheduled"))


def _changed_json(changed: Changed) -> dict[str, Any]:
    assert changed.trigger is not None
    return {**trigger_json(changed.trigger), "CancelledScheduled": changed.cancelled}


@router.post("/triggers", summary="Create a trigger (rule)")
async def create_trigger(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    definition = parse_definition(body)
    key, paused = body.get("Key"), body.get("Paused", False)
    if not isinstance(key, str) or not key:
        raise InvalidRequest("A trigger needs a 'Key' (such as order-confirmation).")
    if not isinstance(paused, bool):
        raise InvalidRequest("'Paused' must be true or false.")
    made = await _service(request).create(
        _server(who).id, key, definition, author=_AUTHOR, paused=paused
    )
    return JSONResponse(trigger_json(made))


@router.get("/triggers", summary="A server's triggers")
async def list_triggers(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    found = await _service(request).all(_server(who).id)
    return JSONResponse({"TotalCount": len(found), "Triggers": [trigger_json(t) for t in found]})


@router.get("/triggers/{key}", summary="One trigger")
async def get_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(trigger_json(await _service(request).get(_server(who).id, key)))


@router.patch("/triggers/{key}", summary="Change a trigger: a new version")
async def patch_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    service = _service(request)
    current = await service.get(_server(who).id, key)
    definition = parse_definition(body, current.definition)
    policy = _policy(request, body if isinstance(body, dict) else {})
    changed = await service.update(
        _server(who).id, key, definition, scheduled=policy, author=_AUTHOR
    )
    return JSONResponse(_changed_json(changed))


@router.post("/triggers/{key}/pause", summary="Pause a trigger")
async def pause_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    policy = _policy(request, await _body(request))
    changed = await _service(request).pause(_server(who).id, key, scheduled=policy)
    return JSONResponse(_changed_json(changed))


@router.post("/triggers/{key}/resume", summary="Resume a paused trigger")
async def resume_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(_changed_json(await _service(request).resume(_server(who).id, key)))


@router.delete("/triggers/{key}", summary="Delete a trigger (?Scheduled=cancel)")
async def delete_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    policy = _policy(request, await _body(request))
    changed = await _service(request).delete(_server(who).id, key, scheduled=policy)
    return JSONResponse(
        {
            "ErrorCode": 0,
            "Message": f"Trigger {key} deleted; {changed.cancelled} waiting message(s) cancelled.",
            "CancelledScheduled": changed.cancelled,
        }
    )


@router.get("/triggers/{key}/versions", summary="Every version of a trigger, newest first")
async def trigger_versions(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    found = await _service(request).versions(_server(who).id, key)
    return JSONResponse({"TotalCount": len(found), "Versions": [version_json(v) for v in found]})


@router.post("/triggers/{key}/dry-run", summary="What the trigger would have done")
async def dry_run_trigger(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await _body(request)
    current = await _service(request).get(_server(who).id, key)
    definition = current.definition
    if body.get("Definition") is not None:
        definition = parse_definition(body["Definition"], current.definition)
    return JSONResponse({"Key": key, **await _dry_run(request, who, body, definition)})


@router.post("/triggers/dry-run", summary="What a rule not saved yet would have done")
async def dry_run_unsaved(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await _body(request)
    if not isinstance(body.get("Definition"), dict):
        raise InvalidRequest("A dry run of a new rule needs its 'Definition' (as for POST).")
    definition = parse_definition(body["Definition"])
    return JSONResponse({"Key": None, **await _dry_run(request, who, body, definition)})


async def _dry_run(
    request: Request, who: Caller, body: dict[str, Any], definition: TriggerDefinition
) -> dict[str, Any]:
    deps = deps_of(request)
    since, until = period(
        parse_moment(body.get("Since"), "Since"),
        parse_moment(body.get("Until"), "Until"),
        deps.clock(),
    )
    run = await dry_run(
        deps.db, _server(who), definition, contact_namespace, since=since, until=until
    )
    return dry_run_json(run)


@router.get("/triggers/{key}/stats", summary="A trigger's counts (?since=&until=)")
async def trigger_counts(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    now = deps.clock()
    query = request.query_params
    since = parse_moment(query.get("since") or query.get("Since"), "since")
    until = parse_moment(query.get("until") or query.get("Until"), "until") or now
    since = since or until - DEFAULT_PERIOD
    if until <= since:
        raise InvalidRequest("'until' must be after 'since'.")
    found = await trigger_stats(deps.db, _server(who).id, key, since, until)
    return JSONResponse(stats_json(found))
