"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

Why not aiosqlite: it runs every call (cursor, execute, fetchall, close: four per statement)
on a helper thread and hands the result back through the event loop, so each one waits a
full loop iteration. Under load an iteration is several milliseconds (32 requests being
parsed, 50 messages being signed), so a ten-statement transaction held SQLite's write lock
for 40-100 ms and single sends stalled near 140 a second (measured with 32 clients:
docs/performance.md). SQLite's statements take microseconds, and its commits one fsync,
so running them inline costs the loop less than the hand-offs did.

The one thing that may not block the loop is waiting for another process's write lock: the
connection is opened with busy_timeout 0, and a statement refused with SQLITE_BUSY sleeps on
the loop and runs again (a refused statement has done nothing, so running it again is safe).
Within one process, writers already queue on Database's lock and never meet here.

The objects mimic the part of aiosqlite that SQLAlchemy's aiosqlite dialect calls, so the
dialect, its pool and its type handling stay as they are (`async_creator`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# How long a statement keeps retrying while another process holds the write lock: the same
# patience as the busy_timeout it replaces.
BUSY_PATIENCE_SECONDS = 30.0
_FIRST_PAUSE = 0.0005
_LONGEST_PAUSE = 0.02


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


async def _patiently(call: Callable[[], Any]) -> Any:
    """Run a statement; while SQLite says another connection holds the lock, pause and retry
    with growing pauses (0.5 ms to 20 ms) without blocking the loop."""
    pause = _FIRST_PAUSE
    deadline = time.monotonic() + BUSY_PATIENCE_SECONDS
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            await _patiently(lambda: self._cursor.execute(sql))
        else:
            await _patiently(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(parameters)
        await _patiently(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """What SQLAlchemy's aiosqlite dialect needs of an aiosqlite connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        # The dialect checks `_connection` to tell an open connection from a closed one.
        self._connection: sqlite3.Connection | None = connection

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        await _patiently(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def creator(path: str) -> Callable[[], Any]:
    """The `async_creator` for create_async_engine: one inline connection to `path`."""

    async def connect() -> InlineConnection:
        # isolation_level=None: SQLAlchemy, not the driver, says when a transaction begins.
        # check_same_thread=False: the pool may close a connection from a finaliser thread.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 0")
        return InlineConnection(connection)

    return connect
