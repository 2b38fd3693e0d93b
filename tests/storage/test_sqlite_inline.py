"""SQLite run inline on the event loop: another process's write lock never blocks the loop."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from misiva.storage import Database, sqlite_inline


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "misiva.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


async def _hold_write_lock(url: str, seconds: float) -> None:
    """Another process's writer, as SQLite sees it: its own connection (own Database)."""
    other = Database(url)
    try:
        async with other.transaction() as tx:
            await tx.execute(sa.text("UPDATE servers SET name = name"))
            await asyncio.sleep(seconds)
    finally:
        await other.close()


async def test_a_writer_waits_for_another_connections_lock_without_blocking_the_loop(
    sqlite_file: str,
) -> None:
    db = Database(sqlite_file)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    counting = asyncio.create_task(ticker())
    try:
        holder = asyncio.create_task(_hold_write_lock(sqlite_file, 0.3))
        await asyncio.sleep(0.05)  # the other connection holds the lock now
        began = time.monotonic()
        async with db.transaction() as tx:
            await tx.execute(sa.text("UPDATE servers SET name = name"))
        waited = time.monotonic() - began
        await holder
    finally:
        counting.cancel()
        await db.close()
    assert waited >= 0.2  # it did wait for the lock...
    assert ticks >= 30  # ...and the loop kept running meanwhile (a blocking wait: ~10 ticks)


async def test_a_lock_held_past_the_patience_is_a_clear_error(
    sqlite_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "BUSY_PATIENCE_SECONDS", 0.1)
    db = Database(sqlite_file)
    holder = asyncio.create_task(_hold_write_lock(sqlite_file, 0.5))
    await asyncio.sleep(0.05)
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with db.engine.begin() as connection:
                await connection.execute(sa.text("UPDATE servers SET name = name"))
    finally:
        await holder
        await db.close()


async def test_reads_and_writes_round_trip_types(sqlite_file: str) -> None:
    db = Database(sqlite_file)
    try:
        async with db.transaction() as tx:
            await tx.execute(sa.text("CREATE TABLE t (a INTEGER, b TEXT, c BLOB)"))
            await tx.execute(
                sa.text("INSERT INTO t VALUES (:a, :b, :c)"),
                [{"a": 1, "b": "ñ", "c": b"\x00\x01"}, {"a": 2, "b": None, "c": None}],
            )
        async with db.reading() as tx:
            rows = (await tx.execute(sa.text("SELECT a, b, c FROM t ORDER BY a"))).all()
    finally:
        await db.close()
    assert [tuple(r) for r in rows] == [(1, "ñ", b"\x00\x01"), (2, None, None)]
