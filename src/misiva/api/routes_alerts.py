"""Sending-health alerts, their thresholds and the sender requirements check (Misiva's own
API; docs/deliverability-monitoring.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.accounts.sender_requirements import sender_requirements
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.alerts import (
    DEFAULT_THRESHOLDS,
    Alert,
    AlertState,
    AlertThreshold,
    threshold_from,
)
from misiva.domain.errors import InvalidRequest
from misiva.domain.sender_requirements import StreamRequirements
from misiva.storage import alerts as alert_store

router = APIRouter(tags=["alerts"])


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "ID": alert.id,
        "State": alert.state.value,
        "Level": alert.level.value,
        "Metric": alert.metric.value,
        "Scope": alert.scope.value,
        "Subject": alert.subject,
        "Window": alert.window,
        "Value": alert.value,
        "Threshold": alert.threshold,
        "Volume": alert.volume,
        "Summary": alert.describe(),
        "OpenedAt": alert.opened_at.isoformat(),
        "UpdatedAt": alert.updated_at.isoformat(),
        "ResolvedAt": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def threshold_json(t: AlertThreshold) -> dict[str, Any]:
    return {
        "Metric": t.metric.value,
        "Warning": t.warning,
        "Danger": t.danger,
        "MinVolume": t.min_volume,
    }


def requirements_json(line: StreamRequirements) -> dict[str, Any]:
    return {
        "Domain": line.domain,
        "MessageStream": line.stream,
        "MessageStreamType": line.stream_type.value,
        "Met": line.met,
        "Requirements": [
            {"Requirement": c.requirement.value, "Verdict": c.verdict.value, "Detail": c.detail}
            for c in line.checks
        ],
    }


@router.get("/alerts", summary="Alerts, newest first (state=open|resolved to filter)")
async def list_alerts(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    given = request.query_params.get("state") or None
    try:
        state = AlertState(given) if given else None
    except ValueError:
        raise InvalidRequest("state must be open or resolved.") from None
    count = request.query_params.get("count", "100")
    offset = request.query_params.get("offset", "0")
    # isascii: str.isdigit() accepts "²", which int() refuses (a 500, found by tests/fuzz).
    valid = (count + offset).isascii() and count.isdigit() and offset.isdigit()
    valid = valid and 0 < int(count) <= 500
    if not valid or int(offset) > MAX_OFFSET:
        raise InvalidRequest("count must be 1 to 500 and offset a number.")
    async with deps_of(request).db.reading() as tx:
        total, found = await alert_store.list_alerts(
            tx, _server_id(who), state=state, limit=int(count), offset=int(offset)
        )
    return JSONResponse({"TotalCount": total, "Alerts": [alert_json(a) for a in found]})


@router.get("/alerts/thresholds", summary="The server's alert levels (defaults where unset)")
async def get_thresholds(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.reading() as tx:
        levels = await alert_store.thresholds(tx, _server_id(who))
    # The metrics a server sets levels for; a promo pool's are its LowStockThreshold.
    return JSONResponse({"Thresholds": [threshold_json(levels[m]) for m in DEFAULT_THRESHOLDS]})


@router.put("/alerts/thresholds/{metric}", summary="Set one metric's alert levels")
async def put_threshold(
    request: Request, metric: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    threshold = parse_threshold(metric, await read_json(request, 64 * 1024))
    deps = deps_of(request)
    async with deps.db.transaction() as tx:
        await alert_store.set_threshold(tx, _server_id(who), threshold, deps.clock())
    return JSONResponse(threshold_json(threshold))


def parse_threshold(metric: str, body: Any) -> AlertThreshold:
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    if "Warning" not in body or "Danger" not in body:
        raise InvalidRequest("Warning and Danger are required.")
    return threshold_from(metric, body["Warning"], body["Danger"], body.get("MinVolume", 0))


@router.get(
    "/sender-requirements",
    summary="Gmail/Yahoo 2024 sender requirements per sending domain and stream",
)
async def get_sender_requirements(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    lines = await sender_requirements(
        deps.db, _server_id(who), bounce_domain=deps.bounce_domain, clock=deps.clock
    )
    return JSONResponse({"Domains": [requirements_json(line) for line in lines]})
