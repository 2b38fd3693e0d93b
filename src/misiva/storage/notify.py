"""Wake-ups across processes: NOTIFY/LISTEN on PostgreSQL, datagrams beside SQLite.

A commit that queues mail wakes the workers of every process at once, so no message waits
for a polling interval. PostgreSQL has this built in. SQLite has no server to relay it, so
each listening process binds a Unix datagram socket in a folder named after the database
file, and a notifier sends one empty datagram to every socket there.

On SQLite the datagram leaves before the commit, and that is still in time: the notifier
holds the write lock, and a woken worker's claim begins with BEGIN IMMEDIATE, so it runs
after the commit and sees the new rows. A transaction that rolls back causes one harmless
spurious wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from misiva.storage.engine import Database, Tx

QUEUED = "misiva_queued"


async def notify(tx: Tx, channel: str = QUEUED) -> None:
    """Wake every process listening on `channel` for this database."""
    if tx.dialect.name == "postgresql":
        # Delivered to listeners when (and only if) the transaction commits.
        await tx.execute(sa.text(f"NOTIFY {channel}"))
        return
    folder = wake_folder(tx.engine.url.database, channel)
    if folder is not None:
        _send_all(folder)


@asynccontextmanager
async def listening(
    db: Database, on_notify: Callable[[], None], channel: str = QUEUED
) -> AsyncIterator[None]:
    """Call `on_notify` for every notification on the channel while the block runs."""
    if db.is_postgres:
        async with _listening_postgres(db, on_notify, channel):
            yield
        return
    folder = wake_folder(db.engine.url.database, channel)
    if folder is None:
        yield
        return
    with _listening_socket(folder, on_notify):
        yield


@functools.lru_cache(maxsize=64)
def wake_folder(database: str | None, channel: str) -> Path | None:
    """Where the listeners of one SQLite file bind (None for an in-memory database, which
    no other process can see): in the temporary folder, because a socket's path must stay
    under about 100 bytes and the database's own folder may be deep. Cached: a notifier
    asks on every commit that queues mail."""
    if not database or database == ":memory:":
        return None
    key = hashlib.sha256(f"{Path(database).resolve()}\0{channel}".encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"misiva-wake-{key}"


def _send_all(folder: Path) -> None:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for entry in entries:
            try:
                sender.sendto(b"", entry.path)
            except ConnectionRefusedError:
                # A listener that died without cleaning up: its socket file is stale.
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            except (BlockingIOError, FileNotFoundError):
                # Its queue is full (it has wake-ups waiting already) or it just left.
                continue


@contextlib.contextmanager
def _listening_socket(folder: Path, on_notify: Callable[[], None]) -> Any:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}-{os.urandom(4).hex()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.setblocking(False)
    receiver.bind(str(path))
    loop = asyncio.get_running_loop()

    def drain() -> None:
        # Many datagrams, one wake-up: the worker claims everything due anyway.
        with contextlib.suppress(BlockingIOError):
            while True:
                receiver.recv(16)
        on_notify()

    loop.add_reader(receiver.fileno(), drain)
    try:
        yield
    finally:
        loop.remove_reader(receiver.fileno())
        receiver.close()
        with contextlib.suppress(OSError):
            path.unlink()


@asynccontextmanager
async def _listening_postgres(
    db: Database, on_notify: Callable[[], None], channel: str
) -> AsyncIterator[None]:
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
