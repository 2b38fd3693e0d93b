"""Promo code allocation throughput: concurrent recipients against one pool.

    .venv/bin/python bench/promo_allocation.py [--codes 5000] [--concurrency 50]
        [--backends sqlite,postgresql]

For each database (PostgreSQL only if it answers on 127.0.0.1:5432): a fresh database,
migrated, one server and one pool of `--codes` generated codes; then `--codes` distinct
recipients each ask for their code (`PromoAllocator.codes`, one write transaction each, as
the accept path does), `--concurrency` at a time; then the same recipients again (the
idempotent path: their code is read back). Allocations per second, and a check that every
code went to one recipient. Figures to compare, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from misiva.accounts.servers import create_server
from misiva.authoring import promo_pools
from misiva.ingest.promo import PromoAllocator
from misiva.storage import Database
from misiva.storage import promo as promo_store
from misiva.storage.migrate import upgrade

PG_ADMIN = os.environ.get("MISIVA_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


async def postgres_database() -> str | None:
    try:
        connection = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"misiva_bench_{uuid.uuid4().hex[:8]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def drop_postgres(url: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()


async def bench(url: str, codes: int, concurrency: int) -> str:
    db = Database(url, pool_size=concurrency)
    try:
        server = (await create_server(db, "bench")).server
        await promo_pools.create_pool(db, server.id, "BENCH")
        await promo_pools.generate(db, server.id, "BENCH", "B-######-????", codes)
        allocator = PromoAllocator(db)
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> str:
            async with gate:
                found = await allocator.codes(server.id, ["BENCH"], f"p{n}@example.com", f"m{n}")
                return found["BENCH"]

        lines = []
        for label in ("allocate", "again (idempotent)"):
            started = time.perf_counter()
            given = await asyncio.gather(*(one(n) for n in range(codes)))
            elapsed = time.perf_counter() - started
            assert len(set(given)) == codes, "a code went to two recipients"
            lines.append(f"  {label}: {codes / elapsed:,.0f}/s ({elapsed:.2f} s)")
        async with db.reading() as tx:
            pool = await promo_store.get_pool(tx, server.id, "BENCH")
            assert pool is not None
            stock = await promo_store.stock(tx, pool.id)
        assert stock.allocated == codes and stock.available == 0
        return "\n".join(lines)
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"{args.codes} recipients, {args.concurrency} at a time")
    for kind in args.backends.split(","):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                url = f"sqlite:///{Path(directory) / 'misiva.db'}"
                upgrade(url)
                print(f"sqlite:\n{asyncio.run(bench(url, args.codes, args.concurrency))}")
        elif kind == "postgresql":
            pg = asyncio.run(postgres_database())
            if pg is None:
                print(f"postgresql: not reachable at {PG_ADMIN}, skipped", file=sys.stderr)
                continue
            try:
                upgrade(pg)
                print(f"postgresql:\n{asyncio.run(bench(pg, args.codes, args.concurrency))}")
            finally:
                asyncio.run(drop_postgres(pg))


if __name__ == "__main__":
    main()
