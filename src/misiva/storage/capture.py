"""The capture inbox: final signed messages kept instead of sent (route target `capture`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from misiva.domain.records import CapturedMessage
from misiva.storage.engine import Tx
from misiva.storage.tables import captured_messages


async def insert_captured(tx: Tx, batch: list[CapturedMessage]) -> None:
    if not batch:
        return
    await tx.execute(
        sa.insert(captured_messages),
        [
            {
                "message_id": c.message_id,
                "server_id": c.server_id,
                "envelope_from": c.envelope_from,
                "recipients": c.recipients,
                "mime": c.mime,
                "created_at": c.created_at,
            }
            for c in batch
        ],
    )


def _captured(row: Any) -> CapturedMessage:
    return CapturedMessage(
        id=row.id,
        message_id=row.message_id,
        server_id=row.server_id,
        envelope_from=row.envelope_from,
        recipients=list(row.recipients),
        mime=row.mime,
        created_at=row.created_at,
    )


async def list_captured(
    tx: Tx, *, server_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[CapturedMessage]]:
    """Newest first, with the total count, optionally for one server."""
    where = [] if server_id is None else [captured_messages.c.server_id == server_id]
    total = await tx.execute(
        sa.select(sa.func.count()).select_from(captured_messages).where(*where)
    )
    rows = await tx.execute(
        sa.select(captured_messages)
        .where(*where)
        .order_by(captured_messages.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_captured(row) for row in rows]


async def get_captured_for_message(
    tx: Tx, message_id: str, server_id: int | None = None
) -> list[CapturedMessage]:
    query = sa.select(captured_messages).where(captured_messages.c.message_id == message_id)
    if server_id is not None:
        query = query.where(captured_messages.c.server_id == server_id)
    return [_captured(row) for row in await tx.execute(query.order_by(captured_messages.c.id))]
