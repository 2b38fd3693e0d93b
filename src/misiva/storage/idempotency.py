"""Remembered responses for the Idempotency-Key request header."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from misiva.storage.engine import Tx
from misiva.storage.tables import idempotency_keys


async def find_response(
    tx: Tx, server_id: int, key: str, not_before: datetime
) -> tuple[int, Any] | None:
    """The first response given for this key on this server, if it is recent enough."""
    result = await tx.execute(
        sa.select(idempotency_keys.c.status_code, idempotency_keys.c.response).where(
            idempotency_keys.c.server_id == server_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at >= not_before,
        )
    )
    row = result.one_or_none()
    return (row.status_code, row.response) if row else None


async def save_response(
    tx: Tx,
    server_id: int,
    key: str,
    status_code: int,
    response: Any,
    now: datetime,
    expired_before: datetime,
) -> bool:
    """Store the response; False if a concurrent request stored one for this key first."""
    # An expired entry for the key is replaced: the key's window starts again.
    await tx.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.server_id == server_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at < expired_before,
        )
    )
    try:
        async with tx.begin_nested():
            await tx.execute(
                sa.insert(idempotency_keys).values(
                    server_id=server_id,
                    key=key,
                    status_code=status_code,
                    response=response,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True
