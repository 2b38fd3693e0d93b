"""The one place that knows dialects: URL to async engine, SQLite pragmas, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from misiva.domain.errors import DatabaseUnavailable, MisivaError, SetupError
from misiva.storage import sqlite_inline

# A transaction, as storage functions take it: they run statements and never commit.
Tx = AsyncConnection
_READ_ONLY = "misiva_read_only"
# SQLSTATEs that mean "not now" rather than "never" on PostgreSQL: the connection went away
# (class 08), the server is out of room (53), was shut down, restarted or is starting (57P),
# a lock or statement waited past its timeout (55P03, 57014), or a deadlock or serialisation
# failure rolled the transaction back (40001, 40P01). The transaction did nothing.
_TRANSIENT_SQLSTATES = ("08", "53", "57P", "55P03", "57014", "40001", "40P01")
# SQLite's: busy or locked past our patience, disk or file size full, an I/O error.
_TRANSIENT_SQLITE = (
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
)
# How long a PostgreSQL statement waits for a lock another transaction holds before it is
# refused (55P03): the same patience as SQLite's (sqlite_inline), so that a long transaction
# elsewhere turns sends into a clear 503 after a bound, never into requests that hang.
LOCK_TIMEOUT_MS = int(sqlite_inline.BUSY_PATIENCE_SECONDS * 1000)


def async_url(url: str) -> str:
    """`sqlite:///PATH` and `postgresql://...` as users write them, with Misiva's drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise SetupError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; synchronous=FULL makes each commit durable
        # across power loss, which "accepted means stored" requires. Waiting for another
        # process's write lock is the driver's job (sqlite_inline), off the busy handler.
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY without waiting when another writer got there first.
        # A transaction that only reads takes no lock, so it never waits behind writers (WAL).
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _TRANSIENT_SQLITE


class Database:
    """An engine and the transactions opened on it; callers compose storage functions inside."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 30.0) -> None:
        self.url = url
        full = async_url(url)
        self.dialect = make_url(full).get_backend_name()
        if self.dialect == "sqlite":
            database = make_url(full).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_async_engine(
                full,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=pool_timeout,
                async_creator=sqlite_inline.creator(database or ":memory:"),
            )
            _prepare_sqlite(self.engine)
            # SQLite has one writer at a time. Writers of one process queue here, in order,
            # instead of in SQLite's busy handler, which sleeps 1 to 100 ms between polls
            # and so turned 32 concurrent requests into waits of hundreds of milliseconds.
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            # A fixed pool of twice the size, no overflow: SQLAlchemy closes an overflow
            # connection as soon as it is returned, so load hovering past `pool_size` opened
            # and closed about five PostgreSQL connections a second in the soak (each a
            # backend fork, a TLS offer and asyncpg's type introspection), on the busiest
            # moments. Past the pool, a transaction waits for a connection (PoolTimeout).
            self.engine = create_async_engine(
                full,
                pool_size=2 * pool_size,
                max_overflow=0,
                pool_timeout=pool_timeout,
                pool_pre_ping=True,
                connect_args={"server_settings": {"lock_timeout": str(LOCK_TIMEOUT_MS)}},
            )
            self._write_lock = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        A database that cannot be reached or has no schema is a SetupError with a clear
        message, so no caller needs to know the driver's exceptions.
        """
        try:
            async with self._writer(), self.engine.begin() as connection:
                yield connection
        except (DBAPIError, OSError, PoolTimeout) as exc:
            translated = self._translated(exc)
            if translated is None:
                raise
            raise translated from exc

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """A transaction that only reads: on SQLite it takes no write lock."""
        try:
            async with self.engine.connect() as connection:
                readonly = await connection.execution_options(**{_READ_ONLY: True})
                async with readonly.begin():
                    yield readonly
        except (DBAPIError, OSError, PoolTimeout) as exc:
            translated = self._translated(exc)
            if translated is None:
                raise
            raise translated from exc

    def _translated(self, exc: DBAPIError | OSError | PoolTimeout) -> MisivaError | None:
        """The driver's error as a MisivaError: DatabaseUnavailable when trying again later
        can work (an outage, a restart, a full disk, a lock held too long), SetupError for
        one that cannot (no schema). None for the others (a constraint): the caller's.
        The URL is shown without its password: the message reaches API clients and logs."""
        where = make_url(self.url).render_as_string(hide_password=True)
        if isinstance(exc, OSError):
            return DatabaseUnavailable(f"cannot reach the database {where}: {exc}")
        if not isinstance(exc, DBAPIError):  # every pooled connection stayed busy
            return DatabaseUnavailable(f"no connection to the database {where} came free")
        if _transient(exc):
            return DatabaseUnavailable(f"the database {where} is unavailable: {exc.orig}")
        if isinstance(exc, OperationalError | ProgrammingError | InterfaceError):
            return SetupError(f"database error on {where}: {exc.orig}")
        return None

    def _writer(self) -> AbstractAsyncContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    async def close(self) -> None:
        await self.engine.dispose()
