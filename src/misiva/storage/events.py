"""The append-only message event log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.records import StoredEvent
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events


async def insert_events(tx: Tx, events: list[EventRecord]) -> None:
    """Append many events in one round trip."""
    if not events:
        return
    await tx.execute(
        sa.insert(message_events),
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


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        message_id=row.message_id,
        type=EventType(row.type),
        recipient=row.recipient,
        created_at=row.created_at,
        details=dict(row.details),
    )


async def list_events(tx: Tx, message_id: str) -> list[StoredEvent]:
    result = await tx.execute(
        sa.select(message_events)
        .where(message_events.c.message_id == message_id)
        .order_by(message_events.c.id)
    )
    return [_event(row) for row in result]
