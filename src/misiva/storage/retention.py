"""Retention: purge old message content, then old messages with their events and the record of
the content blocks that filled them (and old events of no message), in batches. Conversions
are revenue history, not content (a template id and a stream, no message body): they stay."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from misiva.domain.enums import MessageStatus
from misiva.storage.engine import Tx
from misiva.storage.tables import bounces, captured_messages, message_events, messages
from misiva.storage.tables_blocks import message_blocks

_FINAL = [s.value for s in MessageStatus if s.is_final]


async def purge_content(tx: Tx, before: datetime, limit: int) -> int:
    """Empty the stored MIME of up to `limit` settled messages accepted before `before`."""
    ids = (
        sa.select(messages.c.id)
        .where(
            messages.c.accepted_at < before,
            messages.c.status.in_(_FINAL),
            sa.func.length(messages.c.mime) > 0,
        )
        .limit(limit)
        .scalar_subquery()
    )
    result = await tx.execute(sa.update(messages).where(messages.c.id.in_(ids)).values(mime=b""))
    await tx.execute(sa.delete(captured_messages).where(captured_messages.c.created_at < before))
    await tx.execute(sa.update(bounces).where(bounces.c.bounced_at < before).values(dump=None))
    return int(result.rowcount or 0)


async def delete_old(tx: Tx, before: datetime, limit: int) -> int:
    """Delete up to `limit` settled messages accepted before `before`, with their events,
    bounces and content-block records (`message_blocks`)."""
    found = await tx.execute(
        sa.select(messages.c.id)
        .where(messages.c.accepted_at < before, messages.c.status.in_(_FINAL))
        .limit(limit)
    )
    ids = [row.id for row in found]
    if not ids:
        return 0
    await tx.execute(sa.delete(message_events).where(message_events.c.message_id.in_(ids)))
    await tx.execute(sa.delete(bounces).where(bounces.c.message_id.in_(ids)))
    await tx.execute(sa.delete(message_blocks).where(message_blocks.c.message_id.in_(ids)))
    await tx.execute(sa.delete(messages).where(messages.c.id.in_(ids)))
    return len(ids)


async def delete_old_addressless(tx: Tx, before: datetime, limit: int) -> int:
    """Delete up to `limit` events of no message (subscription changes) from before `before`.

    Retention deletes a message's events with the message; these belong to none. The
    consent records, the proof of each change, are kept apart and stay.
    """
    ids = (
        sa.select(message_events.c.id)
        .where(message_events.c.message_id.is_(None), message_events.c.created_at < before)
        .limit(limit)
        .scalar_subquery()
    )
    result = await tx.execute(sa.delete(message_events).where(message_events.c.id.in_(ids)))
    return int(result.rowcount or 0)
