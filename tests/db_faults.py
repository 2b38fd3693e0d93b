"""Database and clock faults for the end-to-end fault suites, made with real parts.

- `PgProxy`: a TCP proxy in front of the shared PostgreSQL server. `outage(seconds)` cuts every
  connection through it and refuses new ones for a while, which is what clients see while
  PostgreSQL restarts, without stopping the server that other tests on this machine use.
- `terminate_backends`: `pg_terminate_backend` of every connection to one database (real
  server-side kills, as an administrator or a failover does).
- `hold_lock`: another connection holding the database's write lock (SQLite `BEGIN EXCLUSIVE`)
  or an ACCESS EXCLUSIVE lock on a table (PostgreSQL) for some seconds.
- `small_volume`: a tmpfs of a few MB to put a SQLite file on, and a filler file to run it out
  of space; `limit_file_size` is the fallback where mounting is not permitted (RLIMIT_FSIZE:
  CPython ignores SIGXFSZ, so SQLite sees EFBIG and answers SQLITE_FULL).
- `SendStream`: a thread sending single messages through the HTTP API and recording, for each,
  whether it was accepted (its MessageID), refused (status and Postmark body) or neither;
  `check_nothing_lost` then checks what the fault suites promise.
(The stepped wall clock of the clock suite is in stepped_clock.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import selectors
import socket
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from harness import Misiva, asyncpg_dsn, free_port, wait_until
from misiva.testing.smtp_sink import SmtpSink

PG_HOST, PG_PORT = "127.0.0.1", 5432
WORKER_CONCURRENCY = 50  # MISIVA_WORKER_CONCURRENCY's default, which the suites keep


class PgProxy:
    """Forwards 127.0.0.1:`port` to PostgreSQL; one selector thread moves the bytes."""

    def __init__(self, target: tuple[str, int] = (PG_HOST, PG_PORT)) -> None:
        self.target = target
        self.port = free_port()
        self._selector = selectors.DefaultSelector()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.cut = 0  # connections cut by outages, for the report
        self._listen()
        self._thread = threading.Thread(target=self._loop, name="pg-proxy", daemon=True)
        self._thread.start()

    def url(self, database_url: str) -> str:
        """The same database, reached through this proxy."""
        parsed = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.setblocking(False)
        with self._lock:
            self._listener = listener
            self._selector.register(listener, selectors.EVENT_READ)

    def _loop(self) -> None:
        while not self._stopping:
            with self._lock:
                events = self._selector.select(timeout=0.05)
                for key, _mask in events:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept(sock)
                    elif sock in self._peers:
                        self._pump(sock)
            time.sleep(0)  # let outage() take the lock between rounds

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except BlockingIOError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        self._peers[client], self._peers[upstream] = upstream, client

    def _pump(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                self._peers[sock].setblocking(True)
                self._peers[sock].sendall(data)
                self._peers[sock].setblocking(False)
                return
        except OSError:
            pass
        self._close_pair(sock)

    def _close_pair(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock, None)
        for each in (sock, other):
            if each is None:
                continue
            self._peers.pop(each, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(each)
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def down(self) -> None:
        """Cut every connection and close the port: new connections are refused, as while
        PostgreSQL restarts."""
        with self._lock:
            assert self._listener is not None
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
            self.cut += len(self._peers) // 2
            for sock in list(self._peers):
                self._close_pair(sock)

    def up(self) -> None:
        """Listen again on the same port: PostgreSQL is back."""
        self._listen()

    def outage(self, seconds: float) -> None:
        self.down()
        time.sleep(seconds)
        self.up()

    def close(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)
        with self._lock:
            for sock in list(self._peers):
                self._close_pair(sock)
            if self._listener is not None:
                self._listener.close()


def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend of every other connection to this database; how many were killed."""

    async def run() -> int:
        connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=5)
        try:
            killed = await connection.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(killed or 0)
        finally:
            await connection.close()

    return asyncio.run(run())


@contextlib.contextmanager
def hold_lock(database_url: str, table: str = "messages") -> Iterator[None]:
    """Another connection holds a lock Misiva needs while the block runs: SQLite's write lock
    (BEGIN EXCLUSIVE), or an ACCESS EXCLUSIVE lock on `table` on PostgreSQL (what a long
    migration or a forgotten `LOCK TABLE` in a psql session holds)."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "", isolation_level=None, timeout=30)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            yield
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    loop = asyncio.new_event_loop()
    pg = loop.run_until_complete(asyncpg.connect(asyncpg_dsn(database_url), timeout=5))
    try:
        loop.run_until_complete(pg.execute(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        yield
        loop.run_until_complete(pg.execute("COMMIT"))
    finally:
        loop.run_until_complete(pg.close())
        loop.close()


@contextlib.contextmanager
def small_volume(path: Path, size_mb: int) -> Iterator[bool]:
    """Mount a tmpfs of `size_mb` at `path`; yields False (mounting nothing) where that is not
    permitted, so the caller can fall back to limit_file_size."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
            capture_output=True,
            timeout=10,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def fill(path: Path) -> Path:
    """Write a filler file until the volume holding `path` has no space left."""
    filler = path / "filler"
    with open(filler, "wb") as out:
        chunk = b"\0" * 65536
        for _ in range(100_000):  # bounded: 6.5 GB, far beyond any small volume
            try:
                out.write(chunk)
                out.flush()
            except OSError:
                break
    return filler


def limit_file_size(pid: int, max_bytes: int | None) -> None:
    """RLIMIT_FSIZE of a running process: no file of its may grow past `max_bytes` (None lifts
    the limit). The fallback for "disk full" where a small volume cannot be mounted."""
    value = resource.RLIM_INFINITY if max_bytes is None else max_bytes
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (value, resource.RLIM_INFINITY))


@dataclass
class Outcome:
    n: int
    status: int | None
    body: object
    seconds: float
    started: float
    message_id: str | None = None


@dataclass
class SendStream:
    """Single sends, one after another, from a thread until stopped; every answer kept."""

    url: str
    token: str
    timeout: float = 40.0
    pause: float = 0.02
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SendStream:
        self._thread = threading.Thread(target=self._run, name="sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
            for n in range(100_000):  # bounded; stop() ends it long before
                if self._stop.is_set():
                    return
                self.outcomes.append(self._send(client, n))
                time.sleep(self.pause)

    def _send(self, client: httpx.Client, n: int) -> Outcome:
        began = time.monotonic()
        message = {
            "From": "hola@shop.test",
            "To": f"user{n}@example.com",
            "Subject": f"Order {n}",
            "TextBody": f"Order {n} confirmed",
        }
        try:
            response = client.post(
                "/email", json=message, headers={"X-Postmark-Server-Token": self.token}
            )
        except httpx.HTTPError as error:
            return Outcome(n, None, repr(error), time.monotonic() - began, began)
        try:
            body: object = response.json()
        except ValueError:
            body = response.text[:500]
        message_id = None
        if response.status_code == 200 and isinstance(body, dict):
            message_id = body.get("MessageID")
        return Outcome(n, response.status_code, body, time.monotonic() - began, began, message_id)

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.accepted) < count:
            time.sleep(0.05)
        return len(self.accepted) >= count

    @property
    def accepted(self) -> list[str]:
        return [o.message_id for o in list(self.outcomes) if o.message_id]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in list(self.outcomes) if not o.message_id]


_MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)


def received_ids(sink: SmtpSink) -> list[str]:
    """The MessageID of every message the sink received, duplicates included."""
    found = []
    for message in list(sink.messages):
        match = _MESSAGE_ID.search(message.data)
        assert match, message.data[:500]
        found.append(match.group(1).decode())
    return found


def total(misiva: Misiva, token: str, status: str | None = None) -> int:
    """How many messages the server has stored (Postmark's `queued` or `sent`, or all)."""
    params = {"count": "1", "offset": "0", **({"status": status} if status else {})}
    response = httpx.get(
        f"{misiva.url}/messages/outbound",
        params=params,
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    count: int = response.json()["TotalCount"]
    return count


@dataclass
class Tally:
    """What one fault run measured, printed for docs/reliability.md."""

    fault: str
    accepted: int
    refused: int
    delivered: int
    duplicated: int
    slowest: float
    unconfirmed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.fault}: accepted {self.accepted}, refused during the fault {self.refused}, "
            f"delivered {self.delivered}, lost 0, duplicated {self.duplicated}, "
            f"refused but committed {self.unconfirmed}, slowest answer {self.slowest:.1f} s"
        )


def check_nothing_lost(
    fault: str,
    misiva: Misiva,
    token: str,
    sink: SmtpSink,
    stream: SendStream,
    bound: float,
    unconfirmed: int = 0,
) -> Tally:
    """Every answer came within `bound` seconds; every refusal is a 4xx/5xx with a Postmark
    body; every accepted message is delivered and stored as sent; nothing refused was stored
    or sent (no half-accepted send), except at most `unconfirmed`: a connection cut while its
    COMMIT was on the wire leaves the client not knowing whether it happened (any database
    client has this window), so such a send is answered 503 and may still go out."""
    for outcome in stream.outcomes:
        assert outcome.seconds < bound, f"send {outcome.n} took {outcome.seconds:.1f} s"
    for outcome in stream.refused:
        assert outcome.status is not None and 400 <= outcome.status < 600, outcome
        assert isinstance(outcome.body, dict), outcome
        assert isinstance(outcome.body.get("ErrorCode"), int), outcome
        assert isinstance(outcome.body.get("Message"), str), outcome
        assert "Traceback" not in outcome.body["Message"], outcome
    accepted = stream.accepted
    assert len(set(accepted)) == len(accepted)
    delivered = wait_until(lambda: set(accepted) <= set(received_ids(sink)), timeout=90)
    missing = set(accepted) - set(received_ids(sink))
    assert delivered, f"{len(missing)} accepted messages never delivered: {sorted(missing)[:5]}"
    # Recorded as final too (a recorder that failed during the fault leaves the lease to run
    # out and the message to go again): nothing stays queued, and only accepted ones exist.
    assert wait_until(lambda: total(misiva, token, "queued") == 0, timeout=60), misiva.logs()
    received = Counter(received_ids(sink))
    extra = set(received) - set(accepted)
    assert len(extra) <= unconfirmed, f"{len(extra)} refused sends were delivered"
    assert total(misiva, token) == len(accepted) + len(extra)
    tally = Tally(
        fault,
        accepted=len(accepted),
        refused=len(stream.refused),
        delivered=len(received),
        duplicated=sum(n - 1 for n in received.values()),
        slowest=max(o.seconds for o in stream.outcomes),
        unconfirmed=len(extra),
    )
    print(tally)
    # At least once: only a message in flight when its outcome could not be recorded goes
    # twice, and a worker has at most MISIVA_WORKER_CONCURRENCY (50) in flight.
    assert tally.duplicated <= WORKER_CONCURRENCY, tally
    return tally
