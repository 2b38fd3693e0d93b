"""Wake-ups across processes on PostgreSQL: NOTIFY at commit, LISTEN in the workers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa

from misiva.storage.engine import Database, Tx

QUEUED = "misiva_queued"


async def notify(tx: Tx, channel: str = QUEUED) -> None:
    """Delivered to listeners when (and only if) the transaction commits; SQLite has no
    other processes to tell, so there it does nothing."""
    if tx.dialect.name == "postgresql":
        await tx.execute(sa.text(f"NOTIFY {channel}"))


@asynccontextmanager
async def listening(
    db: Database, on_notify: Callable[[], None], channel: str = QUEUED
) -> AsyncIterator[None]:
    """Call `on_notify` for every NOTIFY on the channel while the block runs (PostgreSQL)."""
    if not db.is_postgres:
        yield
        return
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection

        def callback(*_args: Any) -> None:
            on_notify()

        await driver.add_listener(channel, callback)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(channel, callback)
