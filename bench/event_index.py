"""What ix_message_events_recipient (conversions by recipient) costs every delivery: event
inserts with and without it, side by side in one run, on SQLite and PostgreSQL.

    .venv/bin/python bench/event_index.py [--rounds 5] [--transactions 200] [--batch 50]

Each round inserts `--transactions` transactions of `--batch` delivered events (the worker
records a delivery batch per transaction) into a migrated database; rounds alternate with the
index dropped and present. Reported: the median events/s of each, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.storage import Database
from misiva.storage.events import insert_events
from misiva.storage.migrate import upgrade
from send_pipeline import drop_database, fresh_database

INDEX = "ix_message_events_recipient"
CREATE = (
    f"CREATE INDEX {INDEX} ON message_events (server_id, lower(recipient), created_at) "
    "WHERE type IN ('delivered', 'opened', 'clicked')"
)


async def _round(db: Database, transactions: int, batch: int, offset: int) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    for t in range(transactions):
        events = [
            EventRecord(
                None, 1, EventType.DELIVERED, f"Person{offset + t * batch + n}@Example.com", now, {}
            )
            for n in range(batch)
        ]
        async with db.transaction() as tx:
            await insert_events(tx, events)
    return transactions * batch / (time.perf_counter() - started)


async def _measure(url: str, rounds: int, transactions: int, batch: int) -> dict[bool, list[float]]:
    db = Database(url)
    rates: dict[bool, list[float]] = {True: [], False: []}
    try:
        for n in range(rounds * 2):
            indexed = n % 2 == 1
            async with db.transaction() as tx:
                await tx.execute(sa.text(CREATE if indexed else f"DROP INDEX IF EXISTS {INDEX}"))
            offset = n * transactions * batch
            rates[indexed].append(await _round(db, transactions, batch, offset))
    finally:
        await db.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for kind in ("sqlite", "postgresql"):
            url = fresh_database(kind, Path(work))
            try:
                upgrade(url)
                rates = asyncio.run(_measure(url, args.rounds, args.transactions, args.batch))
            finally:
                drop_database(url)
            without, with_index = (statistics.median(rates[k]) for k in (False, True))
            print(
                f"{kind:10} without index {without:8.0f} events/s   with {with_index:8.0f} "
                f"events/s   ratio {with_index / without:.3f}"
            )


if __name__ == "__main__":
    main()
