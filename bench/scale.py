"""Misiva's throughput with a long history behind it, against an empty database, and its memory.

    .venv/bin/python bench/scale.py [--backends sqlite,postgresql] [--stored 1000000]
        [--deferred 100000] [--messages 5000] [--repeats 3] [--rss-minutes 0]

The issue's target: with a million messages stored and a hundred thousand deferred, mail
flows within 10% as fast as on an empty database, and memory stays flat over a long run.

For each database, `misiva serve` runs as production runs it (bench/send_pipeline.py's
`start`) and sends the starter order confirmation in batches into Postfix's smtp-sink:

- empty: delivered/s on a fresh database, the median of `--repeats` runs into one sink;
- loaded: a second fresh database is set up the same way, then filled while serve idles
  with `--stored` delivered messages (a queued and a delivered event each, accepted over
  the last 30 days) and `--deferred` deferred ones that fall due only tomorrow, so they
  sit in the queue's index without being claimed; on PostgreSQL, vacuumed, analysed and
  checkpointed, as autovacuum and the checkpointer would have; then measured the same way;
- memory (`--rss-minutes N`): after the loaded runs, mail keeps coming at about 200 a
  second for N minutes while the resident memory of serve and its children is sampled.

The table gives delivered/s empty and loaded, their ratio, and the database's size on disk.
Figures to compare, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from misiva.domain.clock import utcnow
from misiva.domain.delivery import AttemptResult, EventRecord, RecipientState
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.errors import SetupError
from misiva.domain.ids import new_message_id
from misiva.domain.records import NewMessage
from misiva.events.record import record_queued
from misiva.storage import Database, queue
from misiva.storage import domains as domain_store
from misiva.storage import events as event_log
from misiva.storage import servers as server_store
from reference import SmtpSink
from send_pipeline import (
    PG_ADMIN,
    Installation,
    cli,
    drop_database,
    fresh_database,
    start,
    templated,
    throughput,
)

SERVER = "bench"
DOMAIN = "shop.test"
# 5,000 messages a transaction: few enough commits that SQLite's synchronous=FULL fsyncs
# cost little, small enough that a transaction's rows stay well within memory.
FILL_BATCH = 5_000
PROGRESS_EVERY = 100_000
# The slowest fill worth waiting for; slower than this, something is wrong.
FILL_FLOOR_PER_S = 100
# Delivered history spans 30 days: inside the 45 days after which retention purges
# content, so the retention pass that serve makes at start finds nothing to do, as it
# would on a server whose retention keeps up.
HISTORY = timedelta(days=30)
# Deferred mail was accepted in the last 6 hours and falls due a day from now: in the
# queue's index like real deferred mail, but never claimed during the run.
DEFERRED_AGE = timedelta(hours=6)
DEFERRED_DUE = timedelta(days=1)
DEFERRED_SPREAD = timedelta(hours=1)
ATTEMPT_AFTER = timedelta(seconds=2)
# The attempt's event details, as delivery records them (delivery/retry.py).
_REPLIES = {MessageStatus.DELIVERED: "250 2.0.0 Ok", MessageStatus.DEFERRED: "451 4.7.1 Try later"}
_ATTEMPT = {"host": "mx.example.com", "ip": "127.0.0.1", "attempt": "1"}
# The steady run: batches of 100 every half second, about 200 messages a second.
STEADY_BATCH = 100
STEADY_INTERVAL = 0.5
RSS_SAMPLE_SECONDS = 10.0

# The history's content: the same plain message of about 1 KB for every row.
_MIME = (
    "From: Tienda <hola@shop.test>\r\nTo: cliente@example.com\r\nMIME-Version: 1.0\r\n"
    "Subject: Tu pedido ya está en camino\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <history@shop.test>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    + "Hola: tu pedido ha salido de nuestro almacén y llegará en dos o tres días.\r\n"
    * 11
).encode()


# --- Filling a database ----------------------------------------------------------------


@dataclass(frozen=True)
class _Tenant:
    server_id: int
    domain_id: int


def fill(database_url: str, stored: int, deferred: int) -> None:
    """Load `stored` delivered and `deferred` deferred messages of server "bench" and domain
    shop.test, with their events, through the storage layer; set the database up first
    (`misiva db upgrade`, the server and its domain) if that server is not there yet."""
    asyncio.run(_fill(database_url, stored, deferred))


async def _fill(database_url: str, stored: int, deferred: int) -> None:
    db = Database(database_url, pool_size=1)
    try:
        tenant = await _bench_tenant(db)
        now = utcnow()
        progress = _Progress(stored + deferred)
        for total, build in ((stored, _delivered), (deferred, _waiting)):
            for first in range(0, total, FILL_BATCH):
                size = min(FILL_BATCH, total - first)
                await _load(db, [build(tenant, n, total, now) for n in range(first, first + size)])
                progress.advance(size)
        progress.finish()
    finally:
        await db.close()


async def _bench_tenant(db: Database) -> _Tenant:
    """The bench server and domain, set up with Misiva's CLI if they are not there yet."""
    try:
        tenant = await _tenant(db)
    except SetupError:  # no schema yet
        _misiva(db.url, "db", "upgrade")
        tenant = None
    if tenant is None:
        _misiva(db.url, "servers", "create", SERVER)
        _misiva(db.url, "domains", "add", DOMAIN, "--server", SERVER)
        tenant = await _tenant(db)
    assert tenant is not None, "the bench server was just created"
    return tenant


async def _tenant(db: Database) -> _Tenant | None:
    async with db.reading() as tx:
        server = await server_store.find_server_by_name(tx, SERVER)
        domain = await domain_store.find_domain(tx, server.id, DOMAIN) if server else None
    return _Tenant(server.id, domain.id) if server and domain else None


def _misiva(database_url: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISIVA_")}
    env |= {"MISIVA_DATABASE_URL": database_url, "MISIVA_LOG_LEVEL": "WARNING"}
    cli(env, *args)


@dataclass(frozen=True)
class _Row:
    """A message as accepted, as its one attempt left it, and that attempt's event."""

    message: NewMessage
    attempt: AttemptResult
    event: EventRecord


async def _load(db: Database, rows: list[_Row]) -> None:
    """Store messages as ingest does (row and queued event), then as delivery leaves them."""
    async with db.transaction() as tx:
        await record_queued(tx, [r.message for r in rows])
        await queue.record_attempts(tx, [r.attempt for r in rows])
        await event_log.insert_events(tx, [r.event for r in rows])


def _delivered(tenant: _Tenant, n: int, total: int, now: datetime) -> _Row:
    accepted = now - HISTORY + HISTORY * (n / total)
    # A delivered message's next_attempt_at is its last attempt, as delivery leaves it.
    return _row(tenant, n, accepted, MessageStatus.DELIVERED, accepted + ATTEMPT_AFTER)


def _waiting(tenant: _Tenant, n: int, total: int, now: datetime) -> _Row:
    accepted = now - DEFERRED_AGE + DEFERRED_AGE * (n / total)
    due = now + DEFERRED_DUE + DEFERRED_SPREAD * (n / total)
    return _row(tenant, n, accepted, MessageStatus.DEFERRED, due)


def _row(
    tenant: _Tenant, n: int, accepted: datetime, status: MessageStatus, next_attempt: datetime
) -> _Row:
    attempted = accepted + ATTEMPT_AFTER
    recipient = f"historia{n}@example.com"
    message = NewMessage(
        id=new_message_id(),
        server_id=tenant.server_id,
        stream="outbound",
        domain_id=tenant.domain_id,
        sender=f"Tienda <hola@{DOMAIN}>",
        envelope_from=f"hola@{DOMAIN}",
        to=[(recipient, "")],
        cc=[],
        bcc=[],
        recipients=(recipient,),
        subject=f"Tu pedido PED-2026-{n:06d} ya está en camino",
        tag="order-confirmation",
        metadata={"order": f"PED-2026-{n:06d}"},
        track_opens=True,
        track_links="HtmlAndText",
        mime=_MIME,
        accepted_at=accepted,
    )
    delivered = status is MessageStatus.DELIVERED
    state = RecipientState.DELIVERED if delivered else RecipientState.PENDING
    attempt = AttemptResult(
        message_id=message.id,
        status=status,
        rcpt_state={recipient: state.value},
        next_attempt_at=next_attempt,
        updated_at=attempted,
    )
    event = EventRecord(
        message_id=message.id,
        server_id=tenant.server_id,
        type=EventType.DELIVERED if delivered else EventType.DEFERRED,
        recipient=recipient,
        at=attempted,
        details={"reply": _REPLIES[status], **_ATTEMPT},
    )
    return _Row(message, attempt, event)


class _Progress:
    """Prints messages loaded and the rate every PROGRESS_EVERY; stops a fill that crawls."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = self.marked = 0
        self.began = self.mark = time.perf_counter()
        self.deadline = time.monotonic() + 120 + total / FILL_FLOOR_PER_S

    def advance(self, size: int) -> None:
        before, self.done = self.done, self.done + size
        if before // PROGRESS_EVERY != self.done // PROGRESS_EVERY:
            now = time.perf_counter()
            recent = (self.done - self.marked) / (now - self.mark)
            print(
                f"  filled {self.done:>9,} of {self.total:,} messages:"
                f" {recent:,.0f}/s lately, {self.done / (now - self.began):,.0f}/s overall"
            )
            self.mark, self.marked = now, self.done
        if time.monotonic() > self.deadline:
            raise SystemExit(f"fill too slow: {self.done:,} of {self.total:,} in time")

    def finish(self) -> None:
        seconds = time.perf_counter() - self.began
        rate = self.done / seconds if seconds else 0.0
        print(f"  filled {self.done:,} messages in {seconds:.0f} s: {rate:,.0f}/s")


async def _settle_postgres(url: str) -> None:
    """Vacuum, analyse and checkpoint after the load, as a database that has run for months
    has been by autovacuum and the checkpointer; otherwise their catching up on a fresh
    bulk load would run during the loaded measurement and be measured with it."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM (ANALYZE)")
        # Needs a superuser, or pg_checkpoint: the same user creates and drops the databases.
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


# --- Measuring ---------------------------------------------------------------------------


def delivered_rates(misiva: Installation, sink: SmtpSink, messages: int, repeats: int) -> float:
    """The median delivered/s of `repeats` throughput runs into one sink."""
    rates = []
    for repeat in range(repeats):
        accepted, delivered = throughput(misiva, sink.count, messages)
        print(f"  run {repeat + 1}: {accepted:,.0f} accepted/s, {delivered:,.0f} delivered/s")
        rates.append(delivered)
    return statistics.median(rates)


def database_size(url: str) -> int:
    """Bytes on disk: SQLite's file and its write-ahead log, or pg_database_size."""
    if url.startswith("postgresql"):
        return asyncio.run(_postgres_size(url.rsplit("/", 1)[1]))
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


async def _postgres_size(name: str) -> int:
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        return int(await connection.fetchval("SELECT pg_database_size($1)", name))
    finally:
        await connection.close()


# --- Memory over a steady run ----------------------------------------------------------


@dataclass
class _Memory:
    """RSS samples (seconds since the start, KiB) of serve and its descendants, by pid."""

    names: dict[int, str] = field(default_factory=dict)
    samples: dict[int, list[tuple[float, int]]] = field(default_factory=dict)

    def sample(self, root: int, at: float) -> None:
        for pid in [root, *_descendants(root)]:
            rss = _rss_kib(pid)
            if rss is not None:
                self.names.setdefault(pid, _command(pid))
                self.samples.setdefault(pid, []).append((at, rss))


def _descendants(root: int) -> list[int]:
    """Every process below `root`, from each process's parent in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: fields count from the last ")".
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending and len(found) < 1000:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def _rss_kib(pid: int) -> int | None:
    try:
        found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return None  # the process ended
    return int(found.group(1)) if found else None


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(Path(w.decode()).name if i == 0 else w.decode() for i, w in enumerate(words))


def steady_memory(misiva: Installation, sink: SmtpSink, minutes: float) -> _Memory:
    """Send STEADY_BATCH messages every STEADY_INTERVAL for `minutes`, sampling RSS."""
    memory = _Memory()
    headers = {"X-Postmark-Server-Token": misiva.token}
    before, sent = sink.count(), 0
    began = time.monotonic()
    ticks = int(minutes * 60 / STEADY_INTERVAL)
    next_sample = began
    with httpx.Client(base_url=misiva.url, timeout=60) as client:
        for tick in range(ticks):
            if misiva.serve.poll() is not None:
                raise SystemExit(f"misiva serve exited: {misiva.serve.returncode}")
            if time.monotonic() >= next_sample:
                memory.sample(misiva.serve.pid, time.monotonic() - began)
                next_sample += RSS_SAMPLE_SECONDS
            batch = [templated(n) for n in range(sent, sent + STEADY_BATCH)]
            response = client.post(
                "/email/batchWithTemplates", json={"Messages": batch}, headers=headers
            )
            response.raise_for_status()
            if refused := [r for r in response.json() if r["ErrorCode"] != 0]:
                raise SystemExit(f"refused: {refused[:2]}")
            sent += STEADY_BATCH
            time.sleep(max(0.0, began + (tick + 1) * STEADY_INTERVAL - time.monotonic()))
    memory.sample(misiva.serve.pid, time.monotonic() - began)
    arrived = sink.wait_for(before + sent, timeout=60 + sent / 20) if sent else None
    elapsed = time.monotonic() - began
    late = "" if arrived is not None or not sent else f", only {sink.count() - before:,} arrived"
    print(f"  steady run: {sent:,} messages in {elapsed:.0f} s{late}")
    return memory


def print_memory(backend: str, memory: _Memory) -> None:
    print(
        f"\nmemory, misiva {backend} (MB): first, last and max RSS; growth = median of the"
        " last minute's samples - median of the first minute's"
    )
    print(f"{'pid':>7} {'first':>7} {'last':>7} {'max':>7} {'growth':>8} {'%':>6}  process")
    for pid, samples in memory.samples.items():
        end = samples[-1][0]
        first = statistics.median(kib for at, kib in samples if at < 60) / 1024
        last = statistics.median(kib for at, kib in samples if at >= end - 60) / 1024
        growth = last - first
        print(
            f"{pid:>7} {samples[0][1] / 1024:>7.1f} {samples[-1][1] / 1024:>7.1f}"
            f" {max(kib for _, kib in samples) / 1024:>7.1f} {growth:>+8.1f}"
            f" {100 * growth / first:>+6.1f}  {memory.names[pid][:70]}"
        )


# --- One backend -------------------------------------------------------------------------


@dataclass
class Measured:
    delivered: float
    size: int
    fill_per_s: float = float("nan")
    memory: _Memory | None = None


def measure(
    kind: str, workdir: Path, args: argparse.Namespace, *, stored: int, deferred: int
) -> Measured:
    """Set up a fresh database as send_pipeline does, fill it with `stored` and `deferred`
    messages while serve idles (as history accumulates under a running serve), measure."""
    url = fresh_database(kind, workdir)
    try:
        with SmtpSink() as sink:
            misiva = start(url, workdir, sink.port)
            try:
                fill_per_s = _history(url, kind, stored, deferred) if stored + deferred else 0.0
                delivered = delivered_rates(misiva, sink, args.messages, args.repeats)
                size = database_size(url)
                minutes = args.rss_minutes if stored + deferred else 0.0
                memory = steady_memory(misiva, sink, minutes) if minutes > 0 else None
            finally:
                misiva.stop()
    finally:
        drop_database(url)
    return Measured(delivered, size, fill_per_s, memory)


def _history(url: str, kind: str, stored: int, deferred: int) -> float:
    """Fill (and on PostgreSQL settle) the database; the fill's messages a second."""
    began = time.perf_counter()
    fill(url, stored, deferred)
    rate = (stored + deferred) / (time.perf_counter() - began)
    if kind == "postgresql":
        began = time.perf_counter()
        asyncio.run(_settle_postgres(url))
        print(f"  vacuum, analyse, checkpoint: {time.perf_counter() - began:.0f} s")
    return rate


def print_table(results: dict[str, tuple[Measured, Measured]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.messages:,} messages a run, median of {args.repeats} runs; loaded ="
        f" {args.stored:,} delivered + {args.deferred:,} deferred stored;"
        " ratio = loaded ÷ empty delivered/s"
    )
    print(
        f"{'backend':<11} {'empty del/s':>11} {'loaded del/s':>12} {'ratio':>6}"
        f" {'empty MB':>9} {'loaded MB':>10} {'fill msg/s':>10}"
    )
    for backend, (empty, loaded) in results.items():
        print(
            f"{backend:<11} {empty.delivered:>11.0f} {loaded.delivered:>12.0f}"
            f" {loaded.delivered / empty.delivered:>6.2f} {empty.size / 2**20:>9.1f}"
            f" {loaded.size / 2**20:>10.1f} {loaded.fill_per_s:>10,.0f}"
        )
    for backend, (_, loaded) in results.items():
        if loaded.memory is not None:
            print_memory(backend, loaded.memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--deferred", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-minutes", type=float, default=0.0)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, live
    backends = [b for b in args.backends.split(",") if b]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            print(f"misiva {backend}, empty database:")
            empty = measure(backend, Path(tmp), args, stored=0, deferred=0)
            print(f"misiva {backend}, loaded database:")
            loaded = measure(backend, Path(tmp), args, stored=args.stored, deferred=args.deferred)
            results[backend] = (empty, loaded)
    print_table(results, args)


if __name__ == "__main__":
    main()
