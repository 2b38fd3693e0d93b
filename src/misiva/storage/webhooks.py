"""Webhooks, their durable outbox of deliveries, and the log of every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.records import Webhook, WebhookDelivery
from misiva.storage.engine import Tx
from misiva.storage.tables import webhook_attempts, webhook_deliveries, webhooks

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row.id,
        server_id=row.server_id,
        url=row.url,
        stream=row.stream,
        secret=row.secret,
        http_auth=dict(row.http_auth) if row.http_auth else None,
        http_headers=list(row.http_headers),
        triggers=dict(row.triggers),
        created_at=row.created_at,
    )


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        server_id=row.server_id,
        message_id=row.message_id,
        event_id=row.event_id,
        record_type=row.record_type,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
    )


async def insert_webhook(tx: Tx, **values: Any) -> Webhook:
    result = await tx.execute(sa.insert(webhooks).values(**values).returning(*webhooks.c))
    return _webhook(result.one())


async def update_webhook(tx: Tx, webhook_id: int, **values: Any) -> None:
    await tx.execute(sa.update(webhooks).where(webhooks.c.id == webhook_id).values(**values))


async def get_webhook(tx: Tx, server_id: int, webhook_id: int) -> Webhook | None:
    row = (
        await tx.execute(
            sa.select(webhooks).where(
                webhooks.c.server_id == server_id, webhooks.c.id == webhook_id
            )
        )
    ).one_or_none()
    return _webhook(row) if row else None


async def list_webhooks(tx: Tx, server_id: int, stream: str | None = None) -> list[Webhook]:
    query = sa.select(webhooks).where(webhooks.c.server_id == server_id)
    if stream:
        query = query.where(webhooks.c.stream == stream)
    return [_webhook(row) for row in await tx.execute(query.order_by(webhooks.c.id))]


async def webhooks_by_id(tx: Tx, ids: list[int]) -> dict[int, Webhook]:
    if not ids:
        return {}
    rows = await tx.execute(sa.select(webhooks).where(webhooks.c.id.in_(ids)))
    return {row.id: _webhook(row) for row in rows}


async def delete_webhook(tx: Tx, webhook_id: int) -> None:
    ids = sa.select(webhook_deliveries.c.id).where(webhook_deliveries.c.webhook_id == webhook_id)
    await tx.execute(sa.delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
    await tx.execute(
        sa.delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
    )
    await tx.execute(sa.delete(webhooks).where(webhooks.c.id == webhook_id))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    webhook_id: int
    server_id: int
    message_id: str | None
    event_id: int
    record_type: str


async def insert_deliveries(tx: Tx, batch: list[NewDelivery], now: datetime) -> None:
    if not batch:
        return
    await tx.execute(
        sa.insert(webhook_deliveries),
        [
            {
                "webhook_id": d.webhook_id,
                "server_id": d.server_id,
                "message_id": d.message_id,
                "event_id": d.event_id,
                "record_type": d.record_type,
                "payload": None,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_status": None,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
            for d in batch
        ],
    )


async def claim_due(
    tx: Tx, *, now: datetime, lease_until: datetime, limit: int
) -> list[WebhookDelivery]:
    """Lease due deliveries whose earlier events for the same message and webhook are done:
    a receiver sees each message's events in the order they happened."""
    earlier = webhook_deliveries.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.webhook_id == webhook_deliveries.c.webhook_id,
        earlier.c.message_id == webhook_deliveries.c.message_id,
        earlier.c.status == PENDING,
        earlier.c.id < webhook_deliveries.c.id,
    )
    due = (
        sa.select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await tx.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=lease_until, attempts=webhook_deliveries.c.attempts + 1)
        .returning(*webhook_deliveries.c)
    )
    return sorted((_delivery(row) for row in result), key=lambda d: d.id)


async def make_waiting_due(tx: Tx, now: datetime) -> int:
    """Every pending post waiting for a retry is due `now`; how many. For after the wall clock
    stepped back, when their times were set by the old clock. A post another dispatcher has
    in flight may then be made twice: it carries the same idempotency key both times."""
    result = await tx.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.status == PENDING, webhook_deliveries.c.next_attempt_at > now)
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    # What the delivery becomes: delivered, pending again (with next_attempt_at) or failed.
    new_status: str
    next_attempt_at: datetime
    payload: dict[str, Any]


async def record_attempts(tx: Tx, outcomes: list[AttemptOutcome]) -> None:
    for o in outcomes:
        await tx.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id == o.delivery_id)
            .values(
                status=o.new_status,
                next_attempt_at=o.next_attempt_at,
                last_status=o.status_code,
                last_error=o.error,
                payload=o.payload,
                delivered_at=o.attempted_at if o.new_status == DELIVERED else None,
            )
        )
    if outcomes:
        await tx.execute(
            sa.insert(webhook_attempts),
            [
                {
                    "delivery_id": o.delivery_id,
                    "attempted_at": o.attempted_at,
                    "status_code": o.status_code,
                    "latency_ms": o.latency_ms,
                    "error": o.error,
                }
                for o in outcomes
            ],
        )


async def list_deliveries(
    tx: Tx,
    server_id: int,
    *,
    status: str | None = None,
    webhook_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = sa.select(webhook_deliveries).where(webhook_deliveries.c.server_id == server_id)
    if status:
        query = query.where(webhook_deliveries.c.status == status)
    if webhook_id is not None:
        query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
    rows = await tx.execute(
        query.order_by(webhook_deliveries.c.id.desc()).limit(limit).offset(offset)
    )
    return [row._asdict() for row in rows]


async def list_attempts(tx: Tx, delivery_id: int) -> list[dict[str, Any]]:
    rows = await tx.execute(
        sa.select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.id)
    )
    return [row._asdict() for row in rows]


async def attempts_for(tx: Tx, delivery_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The attempts of many deliveries at once (a page of the delivery log), oldest first."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    rows = await tx.execute(
        sa.select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_attempts.c.id)
    )
    for row in rows:
        found[row.delivery_id].append(row._asdict())
    return found


async def replay(tx: Tx, server_id: int, delivery_id: int, now: datetime) -> bool:
    """Send a delivery again (failed or delivered): back to pending, due now."""
    result = await tx.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.server_id == server_id, webhook_deliveries.c.id == delivery_id)
        .values(status=PENDING, next_attempt_at=now)
    )
    return bool(result.rowcount)
