"""Retention on both databases: a deleted message takes its content-block records with it;
conversions, revenue history with no content, stay."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from builders import T0, make_tenant, new_message
from misiva.domain.content_blocks import BlockChoice
from misiva.domain.delivery import AttemptResult
from misiva.domain.enums import MessageStatus
from misiva.events.record import record_queued
from misiva.scheduler.retention import RetentionConfig, RetentionTask
from misiva.storage import Database, queue
from misiva.storage import content_blocks as block_store
from misiva.storage.tables_blocks import message_blocks
from misiva.storage.tables_conversions import conversions


async def test_old_messages_go_with_their_block_records_and_conversions_stay(
    db: Database,
) -> None:
    tenant = await make_tenant(db)
    server_id = tenant.server.id
    old = [new_message(tenant, at=T0 - timedelta(days=400)) for _ in range(3)]
    recent = new_message(tenant, at=T0 - timedelta(days=1))
    async with db.transaction() as tx:
        await record_queued(tx, [*old, recent])
        await queue.record_attempts(
            tx, [AttemptResult(m.id, MessageStatus.DELIVERED, {}, T0, T0) for m in [*old, recent]]
        )
        for m in [*old, recent]:
            choices = [BlockChoice("cross_sell", 7, "A"), BlockChoice("survey", 8, "B")]
            await block_store.record_choices(tx, server_id, m.id, choices, m.accepted_at)
        await tx.execute(
            sa.insert(conversions),
            [
                {
                    "server_id": server_id,
                    "message_id": m.id,
                    "recipient": "ana@example.com",
                    "template_id": None,
                    "stream": "outbound",
                    "value_micros": 25_000_000,
                    "currency": "EUR",
                    "order_id": f"order-{n}",
                    "occurred_at": T0 - timedelta(days=399),
                    "recorded_at": T0 - timedelta(days=399),
                }
                for n, m in enumerate([*old, recent])
            ],
        )
    task = RetentionTask(db, RetentionConfig(batch_size=2), clock=lambda: T0)
    assert (await task.run_once())[1] == 3
    async with db.reading() as tx:
        kept_choices = (await tx.execute(sa.select(message_blocks.c.message_id))).scalars()
        kept_conversions = (await tx.execute(sa.select(conversions.c.message_id))).scalars()
        recent_choices = await block_store.choices_for_message(tx, server_id, recent.id)
    assert set(kept_choices) == {recent.id}
    assert [c.slot for c in recent_choices] == ["cross_sell", "survey"]
    # Revenue history outlives the messages it is attributed to.
    assert sorted(kept_conversions) == sorted(m.id for m in [*old, recent])
