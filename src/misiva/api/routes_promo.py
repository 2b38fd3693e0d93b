"""Promo code pools and redemption (Misiva's own API; docs/offers-promo-codes.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.authoring import promo_pools
from misiva.authoring.promo_pools import ImportResult, PoolView
from misiva.domain.errors import InvalidRequest
from misiva.domain.promo import (
    MAX_IMPORT_BYTES,
    exhaustion_of,
    parse_codes,
    parse_csv_bytes,
    parse_moment,
)

router = APIRouter(tags=["promo codes"])


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def pool_json(view: PoolView) -> dict[str, Any]:
    pool, stock = view.pool, view.stock
    return {
        "Key": pool.key,
        "Description": pool.description,
        "StartsAt": pool.starts_at.isoformat() if pool.starts_at else None,
        "EndsAt": pool.ends_at.isoformat() if pool.ends_at else None,
        "Exhaustion": pool.exhaustion.value,
        "FallbackText": pool.fallback_text,
        "LowStockThreshold": pool.low_stock_threshold,
        "LowStock": view.low_stock,
        "LowStockAlertedAt": (
            pool.low_stock_alerted_at.isoformat() if pool.low_stock_alerted_at else None
        ),
        "Stock": {
            "Total": stock.total,
            "Allocated": stock.allocated,
            "Redeemed": stock.redeemed,
            "Available": stock.available,
        },
        "CreatedAt": pool.created_at.isoformat(),
    }


def import_json(result: ImportResult) -> dict[str, Any]:
    return {
        "Added": result.added,
        "Duplicates": result.duplicates,
        "Errors": [{"Line": line, "Message": message} for line, message in result.errors],
        "Pool": pool_json(result.view),
    }


@router.post("/promo-pools", summary="Create a promo code pool")
async def create_pool(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict) or not isinstance(body.get("Key"), str):
        raise InvalidRequest("The body must be a JSON object with a Key.")
    exhaustion = exhaustion_of(str(body.get("Exhaustion", "refuse")))
    threshold = body.get("LowStockThreshold", 0)
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise InvalidRequest("LowStockThreshold must be a whole number.")
    view = await promo_pools.create_pool(
        deps_of(request).db,
        _server_id(who),
        body["Key"],
        description=str(body.get("Description") or ""),
        starts_at=_when(body, "StartsAt"),
        ends_at=_when(body, "EndsAt"),
        exhaustion=exhaustion,
        fallback_text=str(body.get("FallbackText") or ""),
        low_stock_threshold=threshold,
    )
    return JSONResponse(pool_json(view))


@router.get("/promo-pools", summary="Promo code pools with their stock")
async def list_pools(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    views = await promo_pools.list_pools(deps_of(request).db, _server_id(who))
    return JSONResponse({"TotalCount": len(views), "Pools": [pool_json(v) for v in views]})


@router.get("/promo-pools/{key}", summary="One promo code pool and its stock")
async def get_pool(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(
        pool_json(await promo_pools.pool_view(deps_of(request).db, _server_id(who), key))
    )


@router.post(
    "/promo-pools/{key}/codes",
    summary="Import codes: text/csv (first column) or a JSON list of strings",
)
async def import_codes(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() == "text/csv":
        parsed = parse_csv_bytes(await request.body())
    else:
        body = await read_json(request, MAX_IMPORT_BYTES)
        codes = body.get("Codes") if isinstance(body, dict) else body
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise InvalidRequest('The body must be a JSON list of codes (or {"Codes": [...]}).')
        parsed = parse_codes(codes)
    result = await promo_pools.import_codes(deps_of(request).db, _server_id(who), key, parsed)
    return JSONResponse(import_json(result))


@router.post("/promo-pools/{key}/generate", summary="Generate unique codes from a pattern")
async def generate_codes(
    request: Request, key: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object with Pattern and Count.")
    pattern, count = body.get("Pattern"), body.get("Count")
    if not isinstance(pattern, str) or not isinstance(count, int) or isinstance(count, bool):
        raise InvalidRequest("Pattern (such as WELCOME-####-????) and Count are required.")
    result = await promo_pools.generate(deps_of(request).db, _server_id(who), key, pattern, count)
    return JSONResponse(import_json(result))


@router.post("/promo-codes/{code}/redeem", summary="Report a promo code as redeemed")
async def redeem_code(
    request: Request, code: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    redeemed = await promo_pools.redeem(deps_of(request).db, _server_id(who), code)
    return JSONResponse(
        {
            "Code": redeemed.code,
            "Pool": redeemed.pool_key,
            "Recipient": redeemed.recipient,
            "MessageID": redeemed.message_id,
            "RedeemedAt": redeemed.redeemed_at.isoformat(),
        }
    )


def _when(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    return None if value is None else parse_moment(str(value), name)
