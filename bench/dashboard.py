"""The dashboard on a database of a million messages: folding the rollups, then the page.

    .venv/bin/python bench/dashboard.py [--messages 1000000] [--backends sqlite,postgresql]
        [--runs 20]

The issue's target: the dashboard renders in under 500 ms with 1,000,000 messages stored.

For each database (PostgreSQL only if it answers on 127.0.0.1:5432): a fresh database,
migrated, filled with `--messages` messages accepted over the last 30 days and their events
in a realistic mix (97% delivered, 2% bounced with a handful of reasons, 1% still deferred,
0.1% complaints, 40% opened, 10% clicked; three streams, eight templates, twelve tags, a
few big mailbox providers and a long tail of company domains). Then:

- fold: the scheduler's RollupFolder catches up on every event, from nothing; events/s;
- page: GET /ui/servers/{id}/dashboard for each range, through the app exactly as
  `misiva serve` builds it (build_platform, create_app, mount_ui) over an ASGI transport,
  signed in as an owner: median and p95 of `--runs` requests after two warm-up ones. Each
  request includes the page's own catch-up check, as in production;
- for scale, one count of the month's events by type straight from message_events: what
  each chart would cost without rollups.

Figures to compare, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa

from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.users import Role
from misiva.runtime.wiring import build_platform
from misiva.scheduler.rollups import RollupFolder
from misiva.storage import Database
from misiva.storage.migrate import upgrade
from misiva.storage.tables import (
    domains,
    message_events,
    messages,
    servers,
    templates,
)
from misiva.storage.tables_health import stats_rollups
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

PG_ADMIN = os.environ.get("MISIVA_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
HISTORY = timedelta(days=30)
CHUNK = 10_000
PASSWORD = "a bench password of some length"
RANGES = ("24h", "7d", "30d")

STREAMS = (("outbound", 70), ("broadcasts", 25), ("password-resets", 5))
TAGS = tuple(
    f"{kind}-{n}" for kind in ("order", "invoice", "welcome", "newsletter") for n in range(3)
)
BIG_DOMAINS = (
    ("gmail.com", 40),
    ("outlook.com", 12),
    ("yahoo.com", 9),
    ("hotmail.com", 7),
    ("icloud.com", 6),
    ("gmx.de", 2),
)
TAIL_DOMAINS = tuple(f"empresa{n}.example" for n in range(300))
REASONS = (
    ("HardBounce", "550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual table"),
    ("HardBounce", "550 5.1.1 The email account that you tried to reach does not exist."),
    ("SoftBounce", "552 5.2.2 <{to}>: Mailbox full, quota exceeded"),
    ("Blocked", "554 5.7.1 Message rejected as spam by Content Filtering. id=91827"),
    ("DnsError", "550 5.1.2 Host unknown: domain name not found"),
    ("SoftBounce", "450 4.2.0 retries expired"),
)


def weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


# --- Filling ---------------------------------------------------------------------------------


def _message_rows(
    server_id: int, domain_id: int, first: int, size: int, total: int, now: datetime
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Messages n in [first, first+size) with their events, as the tables hold them."""
    rng = random.Random(first)
    streams, stream_weights = weighted(STREAMS)
    big, big_weights = weighted(BIG_DOMAINS)
    for n in range(first, first + size):
        accepted = now - HISTORY + HISTORY * (n / total)
        if rng.random() < 0.24:
            domain = rng.choice(TAIL_DOMAINS)
        else:
            domain = rng.choices(big, big_weights)[0]
        to = f"cliente{n}@{domain}"
        message_id = str(uuid.UUID(int=rng.getrandbits(128)))
        fate = rng.random()
        status = "delivered" if fate < 0.97 else "bounced" if fate < 0.99 else "deferred"
        row = {
            "id": message_id,
            "server_id": server_id,
            "stream": rng.choices(streams, stream_weights)[0],
            "domain_id": domain_id,
            "status": status,
            "sender": "Tienda <hola@shop.test>",
            "envelope_from": "hola@shop.test",
            "to_list": [[to, ""]],
            "cc_list": [],
            "bcc_list": [],
            "rcpt_state": {to: "pending" if status == "deferred" else status},
            "subject": f"Tu pedido {n}",
            "tag": rng.choice(TAGS),
            "metadata": {},
            "template_id": rng.randint(1, 8),
            "template_version": 1,
            "mime": b"",
            "attempts": 1,
            "next_attempt_at": accepted,
            "accepted_at": accepted,
            "updated_at": accepted,
        }
        events = [_event(row, "queued", to, accepted, {})]
        # Most hand-overs take a second or two; a tail waits on greylisting or slow MXs.
        later = accepted + timedelta(seconds=min(rng.lognormvariate(0.7, 1.3), 7200))
        later = min(later, now)
        if status == "delivered":
            events.append(_event(row, "delivered", to, later, {"reply": "250 2.0.0 OK"}))
            if rng.random() < 0.001:
                events.append(
                    _event(row, "complained", to, later, {"bounce_type": "SpamComplaint"})
                )
            if rng.random() < 0.41:
                events.append(_event(row, "opened", to, later, {"client_name": "Gmail"}))
                if rng.random() < 0.25:
                    events.append(_event(row, "clicked", to, later, {"original_link": "https://x"}))
        elif status == "bounced":
            kind, reply = rng.choice(REASONS)
            details = {"bounce_type": kind, "reply": reply.format(to=to)}
            events.append(_event(row, "bounced", to, later, details))
        else:
            events.append(_event(row, "deferred", to, later, {"reply": "451 4.7.1 Try later"}))
        yield row, events


def _event(
    row: dict[str, Any], kind: str, to: str, at: datetime, details: dict[str, str]
) -> dict[str, Any]:
    return {
        "message_id": row["id"],
        "server_id": row["server_id"],
        "type": kind,
        "recipient": to,
        "created_at": at,
        "details": details,
    }


async def fill(db: Database, total: int) -> tuple[int, float]:
    """The bench server, its templates, and `total` messages with their events."""
    now = datetime.now(UTC)
    began = time.perf_counter()
    async with db.transaction() as tx:
        server_id = (
            await tx.execute(
                sa.insert(servers).values(name="bench", created_at=now).returning(servers.c.id)
            )
        ).scalar_one()
        domain_id = (
            await tx.execute(
                sa.insert(domains)
                .values(
                    server_id=server_id,
                    name="shop.test",
                    dkim_selector="sel",
                    dkim_private_key="",
                    dkim_public_txt="",
                    created_at=now,
                )
                .returning(domains.c.id)
            )
        ).scalar_one()
        await tx.execute(
            sa.insert(templates),
            [
                {
                    "server_id": server_id,
                    "alias": f"plantilla-{n}",
                    "name": f"Plantilla {n}",
                    "template_type": "Standard",
                    "published_version": 1,
                    "latest_version": 1,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, 9)
            ],
        )
    events = 0
    for first in range(0, total, CHUNK):
        size = min(CHUNK, total - first)
        rows = list(_message_rows(server_id, domain_id, first, size, total, now))
        async with db.transaction() as tx:
            await tx.execute(sa.insert(messages), [r for r, _ in rows])
            batch = [e for _, es in rows for e in es]
            await tx.execute(sa.insert(message_events), batch)
        events += len(batch)
        if (first // CHUNK) % 20 == 19:
            rate = (first + size) / (time.perf_counter() - began)
            print(f"  filled {first + size:>9,} of {total:,} messages ({rate:,.0f}/s)")
    return events, time.perf_counter() - began


# --- Measuring -------------------------------------------------------------------------------


async def fold(db: Database) -> tuple[int, float]:
    folder = RollupFolder(db)
    began = time.perf_counter()
    folded = await folder.run_once(max_batches=1_000_000)
    return folded, time.perf_counter() - began


async def page_times(url: str, runs: int) -> dict[str, list[float]]:
    platform = build_platform(Settings(database_url=url, routes="*=capture"))
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    email = f"owner-{uuid.uuid4().hex[:6]}@bench.test"
    await create_user(platform.db, email, PASSWORD, Role.OWNER)
    signed = await sign_in(platform.db, email, PASSWORD)
    assert signed is not None
    async with platform.db.reading() as tx:
        server_id = (await tx.execute(sa.select(sa.func.max(servers.c.id)))).scalar_one()
    times: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            client.cookies.set(SESSION_COOKIE, signed[0])
            for key in RANGES:
                path = f"/ui/servers/{server_id}/dashboard?range={key}"
                samples = []
                for attempt in range(runs + 2):
                    began = time.perf_counter()
                    response = await client.get(path)
                    elapsed = time.perf_counter() - began
                    assert response.status_code == 200, response.text[:500]
                    if attempt >= 2:
                        samples.append(elapsed * 1000)
                times[key] = samples
    finally:
        await platform.db.close()
    return times


async def full_scan_ms(db: Database) -> float:
    """What one chart would cost without rollups: the month's events counted by type (the
    bench database has one server)."""
    since = datetime.now(UTC) - HISTORY
    began = time.perf_counter()
    async with db.reading() as tx:
        await tx.execute(
            sa.select(message_events.c.type, sa.func.count())
            .where(message_events.c.created_at >= since)
            .group_by(message_events.c.type)
        )
    return (time.perf_counter() - began) * 1000


async def rollup_rows(db: Database) -> int:
    async with db.reading() as tx:
        return int(
            (await tx.execute(sa.select(sa.func.count()).select_from(stats_rollups))).scalar_one()
        )


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)]


# --- Databases -------------------------------------------------------------------------------


async def postgres_database() -> str | None:
    try:
        connection = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"misiva_bench_{uuid.uuid4().hex[:8]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def settle_postgres(url: str) -> None:
    """VACUUM ANALYZE after the bulk load, as autovacuum would have long since."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


async def drop_postgres(url: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()


async def bench(kind: str, url: str, total: int, runs: int) -> dict[str, Any]:
    print(f"\n{kind}: filling {total:,} messages")
    db = Database(url, pool_size=2)
    try:
        events, fill_s = await fill(db, total)
        print(f"  {events:,} events in {fill_s:.0f} s")
        if kind == "postgresql":
            await settle_postgres(url)
        folded, fold_s = await fold(db)
        print(f"  folded {folded:,} events in {fold_s:.1f} s ({folded / fold_s:,.0f}/s)")
        if kind == "postgresql":
            await settle_postgres(url)
        scan = statistics.median([await full_scan_ms(db) for _ in range(3)])
        rows = await rollup_rows(db)
    finally:
        await db.close()
    times = await page_times(url, runs)
    return {
        "events": events,
        "fold_s": fold_s,
        "folded": folded,
        "rollup_rows": rows,
        "scan_ms": scan,
        "times": times,
    }


def print_table(total: int, runs: int, results: dict[str, dict[str, Any]]) -> None:
    print(f"\nThe dashboard with {total:,} messages over 30 days (page: {runs} requests each)")
    print(
        f"{'database':<11} {'events':>10} {'fold s':>7} {'fold ev/s':>10} {'rollup rows':>11}"
        f" {'scan ms':>8}  " + "  ".join(f"{k + ' p50/p95 ms':>18}" for k in RANGES)
    )
    for kind, r in results.items():
        pages = "  ".join(
            f"{statistics.median(r['times'][k]):>9.1f} /{p95(r['times'][k]):>7.1f}" for k in RANGES
        )
        print(
            f"{kind:<11} {r['events']:>10,} {r['fold_s']:>7.1f} {r['folded'] / r['fold_s']:>10,.0f}"
            f" {r['rollup_rows']:>11,} {r['scan_ms']:>8.0f}  {pages}"
        )
    print(
        "scan ms: one count of the month's events by type from message_events, for scale;"
        " the page reads only the rollups."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.backends.split(","):
            if kind == "sqlite":
                url = f"sqlite:///{tmp}/dashboard-bench.db"
                upgrade(url)  # runs its own event loop
                results[kind] = asyncio.run(bench(kind, url, args.messages, args.runs))
                continue
            pg = asyncio.run(postgres_database())
            if pg is None:
                print(f"\npostgresql: not reachable at {PG_ADMIN}, skipped", file=sys.stderr)
                continue
            try:
                upgrade(pg)
                results[kind] = asyncio.run(bench(kind, pg, args.messages, args.runs))
            finally:
                asyncio.run(drop_postgres(pg))
    print_table(args.messages, args.runs, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def on_each_backend(backends: str, name: str, run: Callable[[str, str], Awaitable[None]]) -> None:
    """`run(kind, url)` on a fresh migrated database of each kind named (PostgreSQL only if it
    answers), each dropped afterwards: what the offer and events benches share."""
    with tempfile.TemporaryDirectory() as work:
        for kind in backends.split(","):
            if kind == "sqlite":
                url = f"sqlite:///{Path(work) / name}"
                upgrade(url)
                asyncio.run(run(kind, url))
                continue
            found = asyncio.run(postgres_database())
            if found is None:
                print("postgresql: not answering on 127.0.0.1:5432, skipped")
                continue
            try:
                upgrade(found)
                asyncio.run(run(kind, found))
            finally:
                asyncio.run(drop_postgres(found))


if __name__ == "__main__":
    main()
