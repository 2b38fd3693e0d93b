"""Conversions and offer results over HTTP (Misiva's own API; docs/offers-conversions.md):
report a conversion, list them, and the results per template."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.conversions import (
    DEFAULT_WINDOW,
    Conversion,
    NewConversion,
    check_currency,
    check_order_id,
    check_window,
    parse_value,
)
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.offer_results import Comparison, Funnel
from misiva.domain.promo import parse_moment
from misiva.feedback.conversions import Conversions, Recorded
from misiva.feedback.offer_results import day_start, template_results
from misiva.scheduler.rollups import catch_up

router = APIRouter(tags=["conversions"])
_BODY_LIMIT = 64 * 1024
# The results read whole UTC days of rollups, as the dashboard does.
_MAX_DAYS = 90


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def _service(request: Request) -> Conversions:
    deps = deps_of(request)
    return Conversions(deps.db, clock=deps.clock)


def money(revenue: dict[str, Decimal]) -> dict[str, float]:
    """Revenue per currency as JSON numbers (kept exact in the database, in micros)."""
    return {currency: float(value) for currency, value in revenue.items()}


def funnel_json(funnel: Funnel) -> dict[str, Any]:
    return {
        "Sends": funnel.sends,
        "Opens": funnel.opens,
        "Clicks": funnel.clicks,
        "Conversions": funnel.conversions,
        "ConversionRate": funnel.conversion_rate,
        "Revenue": money(dict(funnel.revenue)),
    }


def comparison_json(found: Comparison | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "Metric": found.metric,
        "Leader": found.leader,
        "RunnerUp": found.runner_up,
        "PValue": found.p_value,
        "Significant": found.significant,
    }


def conversion_json(conversion: Conversion) -> dict[str, Any]:
    return {
        "ConversionID": conversion.id,
        "MessageID": conversion.message_id,
        "Recipient": conversion.recipient,
        "TemplateID": conversion.template_id,
        "MessageStream": conversion.stream,
        "Value": float(conversion.value),
        "Currency": conversion.currency,
        "OrderID": conversion.order_id,
        "OccurredAt": conversion.occurred_at.isoformat(),
        "RecordedAt": conversion.recorded_at.isoformat(),
    }


def _new(body: Any) -> NewConversion:
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    message_id, recipient = body.get("MessageID"), body.get("Recipient")
    if message_id is not None and not isinstance(message_id, str):
        raise _invalid("'MessageID' must be the ID a send returned.")
    if recipient is not None and (not isinstance(recipient, str) or "@" not in recipient):
        raise _invalid("'Recipient' must be an email address.")
    if not message_id and not recipient:
        raise _invalid("A conversion needs a 'MessageID' or a 'Recipient'.")
    if "Value" not in body:
        raise _invalid("A conversion needs a 'Value' (0 for one without revenue).")
    occurred = body.get("OccurredAt")
    if occurred is not None and not isinstance(occurred, str):
        raise _invalid("'OccurredAt' must be an ISO 8601 date and time.")
    window = body.get("WindowHours")
    return NewConversion(
        value=parse_value(body["Value"]),
        currency=check_currency(body.get("Currency")),
        message_id=message_id.strip().lower() if message_id else None,
        recipient=recipient.strip() if recipient else None,
        order_id=check_order_id(body.get("OrderID")),
        occurred_at=parse_moment(occurred, "'OccurredAt'", UTC) if occurred else None,
        window=check_window(window) if window is not None else DEFAULT_WINDOW,
    )


def _recorded_json(done: Recorded) -> dict[str, Any]:
    return {
        **conversion_json(done.conversion),
        "Attribution": done.touch,
        "Duplicate": not done.created,
        "Blocks": [
            {"Slot": b.slot, "BlockID": b.block_id, "Variant": b.variant} for b in done.blocks
        ],
    }


@router.post("/conversions", summary="Report a conversion, credited to a message")
async def post_conversion(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    done = await _service(request).record(_server_id(who), _new(body))
    return JSONResponse(_recorded_json(done))


def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
    given = {k.lower(): v for k, v in request.query_params.items()}.get(name.lower())
    try:
        value = int(given) if given is not None else default
    except ValueError:
        raise _invalid(f"'{name}' must be a whole number.") from None
    if not low <= value <= high:
        raise _invalid(f"'{name}' must be from {low} to {high}.")
    return value


@router.get("/conversions", summary="Conversions, newest first (messageid=... for one message)")
async def list_conversions(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    count = _number(request, "count", 100, 1, 500)
    offset = _number(request, "offset", 0, 0, 10_000)
    message_id = request.query_params.get("messageid") or None
    total, found = await _service(request).list(
        _server_id(who), message_id=message_id, count=count, offset=offset
    )
    return JSONResponse({"TotalCount": total, "Conversions": [conversion_json(c) for c in found]})


@router.get("/results/templates", summary="Sends, opens, clicks, conversions per template")
async def template_results_json(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    days = _number(request, "days", 30, 1, _MAX_DAYS)
    deps = deps_of(request)
    now = deps.clock()
    await catch_up(deps.db, now)
    since = day_start(now, days)
    found = await template_results(deps.db, _server_id(who), since)
    return JSONResponse(
        {
            "Days": days,
            "Since": since.isoformat(),
            "Templates": [
                {"TemplateID": r.template_id, "Name": r.name, **funnel_json(r.funnel)}
                for r in found
            ],
        }
    )
