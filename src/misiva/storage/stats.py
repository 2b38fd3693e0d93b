"""Measurements read from the message log: how long accepted mail took to be delivered."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.domain.enums import EventType
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events, messages


async def accept_to_delivered_seconds(
    tx: Tx, server_id: int | None = None, tag: str | None = None
) -> list[float]:
    """For each delivered message (of one server, with one tag), seconds from accept to its
    first delivery, sorted."""
    first = (
        sa.select(
            message_events.c.message_id,
            sa.func.min(message_events.c.created_at).label("delivered_at"),
        )
        .where(message_events.c.type == EventType.DELIVERED.value)
        .group_by(message_events.c.message_id)
        .subquery()
    )
    query = sa.select(messages.c.accepted_at, first.c.delivered_at).join(
        first, first.c.message_id == messages.c.id
    )
    if server_id is not None:
        query = query.where(messages.c.server_id == server_id)
    if tag is not None:
        query = query.where(messages.c.tag == tag)
    # min() keeps its argument's type, so both sides come back UTC-aware.
    rows = await tx.execute(query)
    return sorted((delivered - accepted).total_seconds() for accepted, delivered in rows)
