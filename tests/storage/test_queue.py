"""The messages table as a queue, on SQLite and PostgreSQL: claim, lease, attempts, events."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from builders import T0, make_tenant, new_message
from misiva.domain.delivery import AttemptResult, EventRecord, Priority, RecipientState
from misiva.domain.enums import EventType, MessageStatus
from misiva.events.record import record_attempts, record_queued
from misiva.storage import Database, queue
from misiva.storage import events as event_store
from misiva.storage import messages as message_store

LEASE = timedelta(minutes=5)


async def _claim(db: Database, worker: str, limit: int = 10, now=T0):  # type: ignore[no-untyped-def]
    async with db.transaction() as tx:
        return await queue.claim_due(
            tx, worker_id=worker, now=now, lease_until=now + LEASE, limit=limit
        )


async def test_queued_message_is_stored_with_its_queued_event(db: Database) -> None:
    tenant = await make_tenant(db)
    message = new_message(tenant, ("ana@example.com", "bob@example.com"))
    async with db.transaction() as tx:
        await record_queued(tx, [message])
    async with db.transaction() as tx:
        stored = await message_store.get_message(tx, message.id, tenant.server.id)
        events = await event_store.list_events(tx, message.id)
        other_tenant = await message_store.get_message(tx, message.id, tenant.server.id + 1)
    assert stored is not None and other_tenant is None
    assert stored.status is MessageStatus.QUEUED
    assert stored.rcpt_state == {"ana@example.com": "pending", "bob@example.com": "pending"}
    assert stored.metadata == {"order": "42"} and stored.accepted_at == T0
    assert [e.type for e in events] == [EventType.QUEUED]


async def test_claim_leases_due_messages_once(db: Database) -> None:
    tenant = await make_tenant(db)
    messages = [new_message(tenant) for _ in range(5)]
    later = new_message(tenant, at=T0 + timedelta(hours=1))
    async with db.transaction() as tx:
        await record_queued(tx, [*messages, later])
    first = await _claim(db, "w1", limit=3)
    second = await _claim(db, "w2", limit=10)
    assert len(first) == 3 and len(second) == 2
    assert {m.id for m in first}.isdisjoint({m.id for m in second})
    assert later.id not in {m.id for m in first + second}
    assert all(m.attempts == 1 and m.pending == ("ana@example.com",) for m in first)
    assert await _claim(db, "w3") == []


async def test_expired_lease_makes_message_due_again(db: Database) -> None:
    tenant = await make_tenant(db)
    message = new_message(tenant)
    async with db.transaction() as tx:
        await record_queued(tx, [message])
    assert len(await _claim(db, "crashed")) == 1
    assert await _claim(db, "w2", now=T0 + LEASE - timedelta(seconds=1)) == []
    again = await _claim(db, "w2", now=T0 + LEASE)
    assert [m.id for m in again] == [message.id] and again[0].attempts == 2


async def test_concurrent_claims_never_share_a_message(db: Database) -> None:
    tenant = await make_tenant(db)
    async with db.transaction() as tx:
        await record_queued(tx, [new_message(tenant) for _ in range(60)])
    batches = await asyncio.gather(*(_claim(db, f"w{i}", limit=7) for i in range(8)))
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 56


async def test_recorded_attempt_updates_state_and_appends_events(db: Database) -> None:
    tenant = await make_tenant(db)
    message = new_message(tenant, ("ana@example.com", "bob@example.com"))
    async with db.transaction() as tx:
        await record_queued(tx, [message])
    [claimed] = await _claim(db, "w1")
    state = {"ana@example.com": RecipientState.DELIVERED.value, "bob@example.com": "pending"}
    retry_at = T0 + timedelta(seconds=30)
    async with db.transaction() as tx:
        await record_attempts(
            tx,
            [AttemptResult(claimed.id, MessageStatus.DEFERRED, state, retry_at, T0)],
            [
                EventRecord(
                    claimed.id,
                    tenant.server.id,
                    EventType.DELIVERED,
                    "ana@example.com",
                    T0,
                    {"reply": "250 OK"},
                ),
                EventRecord(
                    claimed.id,
                    tenant.server.id,
                    EventType.DEFERRED,
                    "bob@example.com",
                    T0,
                    {"reply": "451 later"},
                ),
            ],
        )
    async with db.transaction() as tx:
        stored = await message_store.get_message(tx, message.id)
        events = await event_store.list_events(tx, message.id)
        due = await queue.next_due_at(tx)
    assert stored is not None and stored.status is MessageStatus.DEFERRED
    assert stored.rcpt_state == state and stored.next_attempt_at == retry_at
    assert [e.type for e in events] == [EventType.QUEUED, EventType.DELIVERED, EventType.DEFERRED]
    assert events[1].details == {"reply": "250 OK"}
    assert due == retry_at
    [again] = await _claim(db, "w2", now=retry_at)
    assert again.pending == ("bob@example.com",)


async def test_transactional_mail_is_claimed_before_older_commercial_mail(db: Database) -> None:
    tenant = await make_tenant(db)
    # A newsletter queued first, a password reset a minute later: the reset goes first.
    newsletter = [
        replace(new_message(tenant, at=T0 - timedelta(minutes=9 - n)), priority=Priority.COMMERCIAL)
        for n in range(4)
    ]
    resets = [new_message(tenant, at=T0 - timedelta(minutes=1)) for _ in range(2)]
    async with db.transaction() as tx:
        await record_queued(tx, [*newsletter, *resets])
    # RETURNING keeps no order on PostgreSQL: a batch is a set, delivered all at once.
    first = await _claim(db, "w1", limit=3)
    assert {m.id for m in first} == {resets[0].id, resets[1].id, newsletter[0].id}
    rest = await _claim(db, "w2", limit=10)
    assert {m.id for m in rest} == {m.id for m in newsletter[1:]}
    async with db.transaction() as tx:
        assert await queue.next_due_at(tx) == T0 + LEASE


async def test_an_attempt_that_sent_nothing_gives_its_count_back(db: Database) -> None:
    tenant = await make_tenant(db)
    message = new_message(tenant)
    async with db.transaction() as tx:
        await record_queued(tx, [message])
    [claimed] = await _claim(db, "w1")
    held_until = T0 + timedelta(seconds=3)
    result = AttemptResult(
        claimed.id, MessageStatus.QUEUED, claimed.rcpt_state, held_until, T0, attempted=False
    )
    async with db.transaction() as tx:
        await record_attempts(tx, [result], [])
    [again] = await _claim(db, "w2", now=held_until)
    assert again.attempts == 1
