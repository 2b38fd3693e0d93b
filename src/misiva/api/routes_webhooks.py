"""Postmark's Webhooks API, plus Misiva's delivery log and replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET, BigRowId, RowId
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.errors import InvalidRequest
from misiva.domain.records import Webhook
from misiva.storage import webhooks as webhook_store
from misiva.webhooks import admin as webhook_admin

router = APIRouter(tags=["webhooks"])


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "ID": webhook.id,
        "Url": webhook.url,
        "MessageStream": webhook.stream,
        "HttpAuth": webhook.http_auth,
        "HttpHeaders": webhook.http_headers,
        "Triggers": webhook.triggers,
        # Misiva: verify the Standard Webhooks signature (webhook-signature) with this.
        "Secret": webhook.secret,
    }


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, 256 * 1024)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    stream: Annotated[str | None, Query(alias="MessageStream")] = None,
) -> JSONResponse:
    stream = stream or request.query_params.get("messageStream")
    async with deps_of(request).db.transaction() as tx:
        found = await webhook_store.list_webhooks(tx, _server_id(who), stream)
    return JSONResponse({"Webhooks": [webhook_json(w) for w in found]})


@router.post("/webhooks", summary="Create a webhook")
async def create(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    deps = deps_of(request)
    webhook = await webhook_admin.create_webhook(
        deps.db, _server_id(who), await _body(request), targets=deps.webhook_targets
    )
    return JSONResponse(webhook_json(webhook))


@router.get("/webhooks/{webhook_id}", summary="One webhook")
async def read(
    request: Request, webhook_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(
        webhook_json(
            await webhook_admin.get_webhook(deps_of(request).db, _server_id(who), webhook_id)
        )
    )


@router.put("/webhooks/{webhook_id}", summary="Edit a webhook")
async def edit(
    request: Request, webhook_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    deps = deps_of(request)
    webhook = await webhook_admin.update_webhook(
        deps.db, _server_id(who), webhook_id, await _body(request), targets=deps.webhook_targets
    )
    return JSONResponse(webhook_json(webhook))


@router.delete("/webhooks/{webhook_id}", summary="Delete a webhook")
async def delete(
    request: Request, webhook_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    await webhook_admin.delete_webhook(deps_of(request).db, _server_id(who), webhook_id)
    return JSONResponse({"ErrorCode": 0, "Message": f"Webhook {webhook_id} removed."})


@router.get("/webhooks/deliveries/log", summary="Misiva: webhook deliveries and their attempts")
async def deliveries(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    status: Annotated[str | None, Query()] = None,
    count: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    async with deps_of(request).db.transaction() as tx:
        rows = await webhook_store.list_deliveries(
            tx, _server_id(who), status=status, limit=count, offset=offset
        )
        attempts = {row["id"]: await webhook_store.list_attempts(tx, row["id"]) for row in rows}
    return JSONResponse({"Deliveries": [_delivery_json(row, attempts[row["id"]]) for row in rows]})


def _delivery_json(row: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ID": row["id"],
        "WebhookID": row["webhook_id"],
        "MessageID": row["message_id"],
        "RecordType": row["record_type"],
        "Status": row["status"],
        "CreatedAt": row["created_at"].isoformat(),
        "DeliveredAt": row["delivered_at"].isoformat() if row["delivered_at"] else None,
        "Attempts": [
            {
                "At": a["attempted_at"].isoformat(),
                "StatusCode": a["status_code"],
                "LatencyMs": round(a["latency_ms"], 1),
                "Error": a["error"],
            }
            for a in attempts
        ],
    }


@router.post("/webhooks/deliveries/{delivery_id}/replay", summary="Misiva: send a delivery again")
async def replay(
    request: Request, delivery_id: BigRowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    await webhook_admin.replay_delivery(deps_of(request).db, _server_id(who), delivery_id)
    return JSONResponse({"ErrorCode": 0, "Message": f"Delivery {delivery_id} queued again."})
