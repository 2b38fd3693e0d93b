"""Retention on both databases: content purged after its window, messages after theirs."""

from __future__ import annotations

from datetime import timedelta

from builders import T0, make_tenant, new_message
from misiva.domain.delivery import AttemptResult
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.subscriptions import ConsentAction
from misiva.events.record import record_queued
from misiva.events.subscriptions import SubscriptionChange, record_subscription_change
from misiva.scheduler.retention import RetentionConfig, RetentionTask
from misiva.storage import Database, queue
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import subscriptions as subscription_store


async def test_content_then_messages_are_purged_in_batches(db: Database) -> None:
    tenant = await make_tenant(db)
    old = [new_message(tenant, at=T0 - timedelta(days=400)) for _ in range(3)]
    middle = new_message(tenant, at=T0 - timedelta(days=100))
    recent = new_message(tenant, at=T0 - timedelta(days=1))
    pending = new_message(tenant, at=T0 - timedelta(days=400))
    async with db.transaction() as tx:
        await record_queued(tx, [*old, middle, recent, pending])
        await queue.record_attempts(
            tx,
            [
                AttemptResult(m.id, MessageStatus.DELIVERED, {}, T0, T0)
                for m in [*old, middle, recent]
            ],
        )
    task = RetentionTask(db, RetentionConfig(batch_size=2), clock=lambda: T0)
    # The three old ones lose their content first, then go entirely.
    assert await task.run_once() == (4, 3)
    async with db.transaction() as tx:
        found = await message_store.get_messages(
            tx, [m.id for m in [*old, middle, recent, pending]]
        )
    assert set(found) == {middle.id, recent.id, pending.id}
    assert found[middle.id].mime == b"" and found[recent.id].mime != b""
    assert found[pending.id].mime != b"", "a message still being delivered keeps its content"


async def test_old_events_of_no_message_go_and_consent_proof_stays(db: Database) -> None:
    tenant = await make_tenant(db)
    server_id = tenant.server.id
    async with db.transaction() as tx:
        for days in (400, 1):
            change = SubscriptionChange(
                server_id, "broadcast", f"d{days}@example.com", False, T0 - timedelta(days=days)
            )
            await record_subscription_change(tx, change)
    task = RetentionTask(db, RetentionConfig(batch_size=1), clock=lambda: T0)
    await task.run_once()
    async with db.transaction() as tx:
        _total, left = await event_store.list_server_events(
            tx, server_id, EventType.SUBSCRIPTION_CHANGED
        )
        proof = await subscription_store.list_consent(tx, server_id, "d400@example.com")
    assert [e.recipient for e in left] == ["d1@example.com"]
    assert [r.action for r in proof] == [ConsentAction.UNSUBSCRIBED]
