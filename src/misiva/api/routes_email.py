"""POST /email and /email/batch: Postmark's sending endpoints (and Misiva's SendAt)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request

from misiva.api.auth import caller, deps_of
from misiva.api.deps import ApiDeps, Caller
from misiva.api.responses import JSONResponse, send_result_json, single_send_response
from misiva.api.schemas import EmailIn, TemplatedEmailIn, parse_email, parse_send_at
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, TooLarge
from misiva.domain.message import (
    MAX_BATCH,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    SendFields,
    SendResult,
)
from misiva.ingest.schedule import SendScheduler
from misiva.ingest.tenants import ServerContext

router = APIRouter(tags=["sending"])

_ONE = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmailIn"}}}}
_MANY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_BATCH,
                "items": {"$ref": "#/components/schemas/EmailIn"},
            }
        }
    }
}
_ONE_TEMPLATED = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplatedEmailIn"}}}
}
_MANY_TEMPLATED = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "Messages": {
                        "type": "array",
                        "maxItems": MAX_BATCH,
                        "items": {"$ref": "#/components/schemas/TemplatedEmailIn"},
                    }
                },
            }
        }
    }
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, refusing oversized bodies before parsing them."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    body = await request.body()
    if len(body) > limit:
        raise _too_large(limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc}", ErrorCode.INVALID_JSON
        ) from None


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"The request is larger than the {limit // (1024 * 1024)} MB allowed.")


@router.post("/email", openapi_extra={"requestBody": _ONE}, summary="Send one email")
async def send_email(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _send_one(request, who, EmailIn, idempotency_key)


@router.post("/email/batch", openapi_extra={"requestBody": _MANY}, summary="Send a batch")
async def send_batch(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    payload = await read_json(request, MAX_BATCH_BYTES)
    if not isinstance(payload, list):
        raise InvalidRequest(
            "The batch must be a JSON array of messages.", ErrorCode.INCOMPATIBLE_JSON
        )
    return await _send_many(request, who, payload, EmailIn, idempotency_key)


@router.post(
    "/email/withTemplate",
    openapi_extra={"requestBody": _ONE_TEMPLATED},
    summary="Send one email from a stored template",
)
async def send_with_template(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _send_one(request, who, TemplatedEmailIn, idempotency_key)


@router.post(
    "/email/batchWithTemplates",
    openapi_extra={"requestBody": _MANY_TEMPLATED},
    summary="Send a batch of templated emails",
)
async def send_batch_with_templates(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    payload = await read_json(request, MAX_BATCH_BYTES)
    # Postmark wraps this batch in an object: {"Messages": [...]}.
    messages = payload.get("Messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        raise InvalidRequest(
            "The body must be an object with a 'Messages' array.", ErrorCode.INCOMPATIBLE_JSON
        )
    return await _send_many(request, who, messages, TemplatedEmailIn, idempotency_key)


async def _send_one(
    request: Request, who: Caller, model: type[EmailIn], idempotency_key: str | None
) -> JSONResponse:
    deps = deps_of(request)
    body = await read_json(request, MAX_MESSAGE_BYTES)
    fields = parse_email(body, model)
    send_at = parse_send_at(body)
    if who.context is None:
        return single_send_response(deps.ingestor.check_only([fields])[0], deps.clock())
    [result] = await _accept(deps, who.context, [fields], [send_at], idempotency_key)
    return single_send_response(result, deps.clock())


async def _send_many(
    request: Request,
    who: Caller,
    payload: list[Any],
    model: type[EmailIn],
    idempotency_key: str | None,
) -> JSONResponse:
    deps = deps_of(request)
    if len(payload) > MAX_BATCH:
        raise InvalidRequest(
            f"The batch has {len(payload)} messages; at most {MAX_BATCH} are allowed.",
            ErrorCode.TOO_MANY_BATCH_MESSAGES,
        )
    parsed = [_parse_item(item, model) for item in payload]
    items = [item for item, _ in parsed]
    if who.context is None:
        results = deps.ingestor.check_only(items)
    else:
        send_at = [at for _, at in parsed]
        results = await _accept(deps, who.context, items, send_at, idempotency_key)
    now = deps.clock()
    return JSONResponse([send_result_json(r, now) for r in results])


async def _accept(
    deps: ApiDeps,
    context: ServerContext,
    items: list[SendFields | MisivaError],
    send_at: list[datetime | None],
    idempotency_key: str | None,
) -> list[SendResult]:
    """Accept now, or, for items with a SendAt (Misiva's extension), schedule for later."""
    if not any(send_at):
        return await deps.ingestor.accept(context, items, idempotency_key=idempotency_key)
    scheduler = SendScheduler(deps.db, deps.ingestor, deps.clock)
    results = await scheduler.send_or_schedule(
        context, items, send_at, idempotency_key=idempotency_key
    )
    # One due within the releaser's poll interval is then released on time to the moment.
    deps.release_scheduled()
    return results


def _parse_item(
    item: Any, model: type[EmailIn]
) -> tuple[SendFields | MisivaError, datetime | None]:
    try:
        return parse_email(item, model), parse_send_at(item)
    except MisivaError as error:
        return error, None
