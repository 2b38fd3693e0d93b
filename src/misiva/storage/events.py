"""The append-only message event log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.records import StoredEvent
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events


async def insert_events(tx: Tx, events: list[EventRecord]) -> list[int]:
    """Append many events in one round trip; returns their ids, in order."""
    if not events:
        return []
    result = await tx.execute(
        sa.insert(message_events).returning(message_events.c.id, sort_by_parameter_order=True),
        [
            {
                "message_id": e.message_id,
                "server_id": e.server_id,
                "type": e.type.value,
                "recipient": e.recipient,
                "created_at": e.at,
                "details": e.details,
            }
            for e in events
        ],
    )
    return [int(row.id) for row in result]


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        message_id=row.message_id,
        type=EventType(row.type),
        recipient=row.recipient,
        created_at=row.created_at,
        details=dict(row.details),
        server_id=row.server_id,
    )


async def list_events(tx: Tx, message_id: str) -> list[StoredEvent]:
    result = await tx.execute(
        sa.select(message_events)
        .where(message_events.c.message_id == message_id)
        .order_by(message_events.c.id)
    )
    return [_event(row) for row in result]


async def get_event(tx: Tx, event_id: int) -> StoredEvent | None:
    row = (
        await tx.execute(sa.select(message_events).where(message_events.c.id == event_id))
    ).one_or_none()
    return _event(row) if row else None


async def has_event(tx: Tx, message_id: str, recipient: str, event_type: EventType) -> bool:
    """Whether this recipient already has such an event (first open, unique click)."""
    result = await tx.execute(
        sa.select(message_events.c.id)
        .where(
            message_events.c.message_id == message_id,
            message_events.c.recipient == recipient,
            message_events.c.type == event_type.value,
        )
        .limit(1)
    )
    return result.first() is not None


async def list_server_events(
    tx: Tx,
    server_id: int,
    event_type: EventType,
    *,
    message_id: str | None = None,
    recipient: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[StoredEvent]]:
    where = [message_events.c.server_id == server_id, message_events.c.type == event_type.value]
    if message_id:
        where.append(message_events.c.message_id == message_id.lower())
    if recipient:
        where.append(message_events.c.recipient == recipient.lower())
    total = await tx.execute(sa.select(sa.func.count()).select_from(message_events).where(*where))
    rows = await tx.execute(
        sa.select(message_events)
        .where(*where)
        .order_by(message_events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_event(row) for row in rows]
