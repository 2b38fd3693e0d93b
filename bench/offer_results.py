"""Offer results on a big database: a block's per-variant funnel and the results per template.

    .venv/bin/python bench/offer_results.py [--messages 200000] [--backends sqlite,postgresql]
        [--runs 7]

For each database: bench/dashboard.py's realistic fill (messages over 30 days, 41% opened,
10% clicked), every message carrying one A/B content block (its `message_blocks` row), a
click on the block's link for a quarter of the clicks, and a conversion for 3% of the
messages. Then, after the rollups are folded, the median and worst of `--runs` calls of
feedback.offer_results.block_results (what GET /content-blocks/{id}/results and the block's
page run) and template_results over 30 days (GET /results/templates, the Offers page).
Figures to compare, not pass/fail.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from dashboard import fill, fold, on_each_backend, settle_postgres
from misiva.authoring.content_blocks import ContentBlocks
from misiva.domain.content_blocks import BlockContent, BlockVariant, NewContentBlock
from misiva.feedback.offer_results import block_results, day_start, template_results
from misiva.storage import Database
from misiva.storage.tables import message_events, messages
from misiva.storage.tables_blocks import message_blocks
from misiva.storage.tables_conversions import conversions

CHUNK = 10_000


async def _offers(db: Database) -> int:
    """The block, a message_blocks row per message, block clicks and conversions."""
    block = await ContentBlocks(db).create(
        1,
        NewContentBlock(
            key="cross-sell",
            slot="cross_sell",
            variants=(
                BlockVariant("A", 50, {"default": BlockContent("<a href='https://x'>A</a>")}),
                BlockVariant("B", 50, {"default": BlockContent("<a href='https://x'>B</a>")}),
            ),
        ),
    )
    rng = random.Random(7)
    async with db.reading() as tx:
        rows = (
            await tx.execute(
                sa.select(messages.c.id, messages.c.accepted_at, messages.c.template_id)
            )
        ).all()
    now = datetime.now(UTC)
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        picked = [(m, "A" if rng.random() < 0.5 else "B") for m in chunk]
        async with db.transaction() as tx:
            await tx.execute(
                sa.insert(message_blocks),
                [
                    {
                        "server_id": 1,
                        "message_id": m.id,
                        "slot": "cross_sell",
                        "block_id": block.id,
                        "variant": v,
                        "at": m.accepted_at,
                    }
                    for m, v in picked
                ],
            )
            bought = [(m, v) for m, v in picked if rng.random() < 0.03]
            if bought:
                await tx.execute(
                    sa.insert(conversions),
                    [
                        {
                            "server_id": 1,
                            "message_id": m.id,
                            "recipient": "x@example.com",
                            "template_id": m.template_id,
                            "stream": "outbound",
                            "value_micros": rng.randint(5, 200) * 1_000_000,
                            "currency": "EUR",
                            "order_id": None,
                            "occurred_at": m.accepted_at + timedelta(hours=1),
                            "recorded_at": now,
                        }
                        for m, _ in bought
                    ],
                )
            await tx.execute(
                sa.update(message_events)
                .where(
                    message_events.c.type == "clicked",
                    message_events.c.message_id.in_(
                        [m.id for m, _ in picked if rng.random() < 0.25]
                    ),
                )
                .values(details={"original_link": f"https://x?misiva_block={block.id}.A"})
            )
    return block.id


async def _times(db: Database, block_id: int, runs: int) -> tuple[list[float], list[float]]:
    blocks = ContentBlocks(db)
    block = await blocks.get(1, block_id)
    since = day_start(datetime.now(UTC), 30)
    block_ms, template_ms = [], []
    for _ in range(runs):
        began = time.perf_counter()
        await block_results(db, block)
        block_ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await template_results(db, 1, since)
        template_ms.append((time.perf_counter() - began) * 1000)
    return block_ms, template_ms


async def bench(kind: str, url: str, total: int, runs: int) -> None:
    db = Database(url, pool_size=2)
    try:
        events, _ = await fill(db, total)
        block_id = await _offers(db)
        await fold(db)
        if kind == "postgresql":
            await settle_postgres(url)
        block_ms, template_ms = await _times(db, block_id, runs)
    finally:
        await db.close()
    print(
        f"{kind:10} {total:>9,} messages {events:>10,} events   block results "
        f"median {statistics.median(block_ms):7.0f} ms (max {max(block_ms):.0f})   "
        f"template results median {statistics.median(template_ms):5.0f} ms "
        f"(max {max(template_ms):.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    on_each_backend(
        args.backends, "offers.db", lambda kind, url: bench(kind, url, args.messages, args.runs)
    )


if __name__ == "__main__":
    main()
