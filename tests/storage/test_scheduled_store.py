"""Scheduled messages as a releaser's queue, on SQLite and PostgreSQL: claim under a lease
(SKIP LOCKED), lease expiry, marks, cancelling, lists, and the claim's query plan."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from builders import T0, Tenant, make_tenant, new_message
from misiva.domain.automation import ScheduledStatus
from misiva.domain.ids import new_message_id
from misiva.events.record import record_queued
from misiva.storage import Database
from misiva.storage import scheduled as store
from misiva.storage.tables_automation import triggers
from plans import plans_of

LEASE = timedelta(seconds=30)


async def _schedule(
    db: Database,
    tenant: Tenant,
    count: int,
    *,
    at: timedelta = timedelta(0),
    email: str = "ana@example.com",
    trigger_id: int | None = None,
) -> list[str]:
    ids = [new_message_id() for _ in range(count)]
    async with db.transaction() as tx:
        for n, id_ in enumerate(ids):
            await store.insert_scheduled(
                tx,
                message_id=id_,
                server_id=tenant.server.id,
                email=email,
                stream="outbound",
                # A second apart, so "soonest first" has an order to keep.
                send_at=T0 + at + timedelta(seconds=n),
                fields={"to": email, "subject": f"n{n}"},
                now=T0 - timedelta(days=1),
                trigger_id=trigger_id,
            )
    return ids


async def _claim(db: Database, releaser: str, limit: int = 10, now=T0 + timedelta(hours=1)):  # type: ignore[no-untyped-def]
    async with db.transaction() as tx:
        return await store.claim_due(
            tx, releaser=releaser, now=now, lease_until=now + LEASE, limit=limit
        )


async def test_claim_takes_due_rows_soonest_first_and_leases_them(db: Database) -> None:
    tenant = await make_tenant(db)
    due = await _schedule(db, tenant, 5)
    later = await _schedule(db, tenant, 2, at=timedelta(hours=2))
    first = await _claim(db, "r1", limit=3)
    second = await _claim(db, "r2", limit=10)
    assert [m.id for m in first] == due[:3]
    assert [m.id for m in second] == due[3:]
    assert all(m.attempts == 1 for m in first + second)
    assert not {m.id for m in first + second} & set(later)
    assert await _claim(db, "r3") == []
    async with db.reading() as tx:
        # Leased rows are not what an idle releaser waits for; the next unleased one is.
        assert await store.next_claimable_at(tx) == T0 + timedelta(hours=2)


async def test_expired_lease_makes_a_row_due_again(db: Database) -> None:
    tenant = await make_tenant(db)
    [id_] = await _schedule(db, tenant, 1)
    now = T0 + timedelta(minutes=1)
    assert len(await _claim(db, "crashed", now=now)) == 1
    assert await _claim(db, "r2", now=now + LEASE - timedelta(seconds=1)) == []
    [again] = await _claim(db, "r2", now=now + LEASE)
    assert again.id == id_ and again.attempts == 2


async def test_concurrent_claims_never_share_a_row(db: Database) -> None:
    tenant = await make_tenant(db)
    await _schedule(db, tenant, 60)
    batches = await asyncio.gather(*(_claim(db, f"r{i}", limit=7) for i in range(8)))
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 56


async def test_a_claim_skips_rows_another_open_claim_holds(db: Database, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: a second claim waits for the first to commit")
    tenant = await make_tenant(db)
    ids = await _schedule(db, tenant, 10)
    now = T0 + timedelta(hours=1)
    async with db.transaction() as first:
        held = await store.claim_due(
            first, releaser="r1", now=now, lease_until=now + LEASE, limit=4
        )
        # The first claim is not committed: its rows are locked, and SKIP LOCKED passes
        # them by at once instead of waiting or taking them too.
        other = await asyncio.wait_for(_claim(db, "r2", limit=10), timeout=5)
    assert [m.id for m in held] == ids[:4]
    assert [m.id for m in other] == ids[4:]


async def test_marks_record_sent_failed_and_retry(db: Database) -> None:
    tenant = await make_tenant(db)
    ids = await _schedule(db, tenant, 3)
    claimed = await _claim(db, "r1")
    assert len(claimed) == 3
    now = T0 + timedelta(hours=1)
    async with db.transaction() as tx:
        await store.mark_sent(tx, [ids[0]], now)
        await store.mark_failed(tx, [(ids[1], "'name' is missing")], now)
        await store.retry_later(tx, [ids[2]], now + timedelta(seconds=5))
    async with db.reading() as tx:
        sent, failed, retried = [await store.get_scheduled(tx, tenant.server.id, i) for i in ids]
    assert sent is not None and sent.status is ScheduledStatus.SENT and sent.updated_at == now
    assert failed is not None and failed.status is ScheduledStatus.FAILED
    assert failed.error == "'name' is missing"
    assert retried is not None and retried.status is ScheduledStatus.SCHEDULED
    assert await _claim(db, "r2", now=now + timedelta(seconds=4)) == []
    [again] = await _claim(db, "r2", now=now + timedelta(seconds=5))
    assert again.id == ids[2] and again.attempts == 2


async def test_cancel_spares_rows_being_released_or_already_accepted(db: Database) -> None:
    tenant = await make_tenant(db)
    waiting, leased, accepted = await _schedule(db, tenant, 3)
    now = T0 + timedelta(hours=1)
    async with db.transaction() as tx:
        await store.claim_due(tx, releaser="r1", now=now, lease_until=now + LEASE, limit=2)
    # One was accepted as a message before its releaser died (its lease has run out).
    message = replace(new_message(tenant), id=accepted)
    async with db.transaction() as tx:
        await record_queued(tx, [message])
        assert await store.accepted_among(tx, [waiting, leased, accepted]) == {accepted}
        cancelled = await store.cancel(
            tx, tenant.server.id, [waiting, leased, accepted], "by test", now
        )
    # `waiting` was claimed too (limit 2: the two soonest), so only after the lease ends.
    assert cancelled == []
    async with db.transaction() as tx:
        cancelled = await store.cancel(
            tx, tenant.server.id, [waiting, leased, accepted], "by test", now + LEASE
        )
    assert sorted(cancelled) == sorted([waiting, leased])


async def test_lists_filter_by_status_email_trigger_and_page(db: Database) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db, "other", "other.test")
    async with db.transaction() as tx:
        trigger_id = (
            await tx.execute(
                sa.insert(triggers)
                .values(
                    server_id=tenant.server.id,
                    key="cross-sell",
                    event_name="order.placed",
                    version=1,
                    definition={},
                    paused=False,
                    created_at=T0,
                    updated_at=T0,
                )
                .returning(triggers.c.id)
            )
        ).scalar_one()
    ana = await _schedule(db, tenant, 3, email="Ana@Example.com", trigger_id=trigger_id)
    bob = await _schedule(db, tenant, 2, email="bob@example.com", at=timedelta(minutes=5))
    await _schedule(db, other, 4)
    async with db.transaction() as tx:
        await store.cancel(tx, tenant.server.id, [bob[0]], "by test", T0)
    server = tenant.server.id
    async with db.reading() as tx:
        every = await store.list_scheduled(tx, server)
        assert [m.id for m in every] == ana + bob  # soonest first
        assert await store.count_scheduled(tx, server) == 5
        page = await store.list_scheduled(tx, server, limit=2, offset=2)
        assert [m.id for m in page] == [ana[2], bob[0]]
        waiting = await store.list_scheduled(tx, server, status=ScheduledStatus.SCHEDULED)
        assert [m.id for m in waiting] == [*ana, bob[1]]
        cancelled = await store.count_scheduled(tx, server, status=ScheduledStatus.CANCELLED)
        assert cancelled == 1
        assert await store.count_scheduled(tx, server, email="ANA@example.com") == 3
        for named in ("cross-sell", str(trigger_id)):
            found = await store.list_scheduled(tx, server, trigger=named)
            assert [m.id for m in found] == ana
        assert await store.count_scheduled(tx, server, trigger="no-such-rule") == 0
        assert await store.count_scheduled(tx, other.server.id, trigger="cross-sell") == 0


async def test_claim_reads_only_waiting_rows_through_the_due_index(db: Database) -> None:
    tenant = await make_tenant(db)
    sent = await _schedule(db, tenant, 1500)
    await _schedule(db, tenant, 3, at=timedelta(days=1))
    async with db.transaction() as tx:
        await store.mark_sent(tx, sent, T0)
    if db.is_postgres:
        async with db.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE scheduled_messages")
            await connection.commit()
    now = T0 + timedelta(days=2)

    async def claim(tx):  # type: ignore[no-untyped-def]
        await store.claim_due(tx, releaser="r1", now=now, lease_until=now + LEASE, limit=100)
        await store.next_claimable_at(tx)

    for plan in await plans_of(db, claim):
        assert not plan.scans(["scheduled_messages"]), str(plan)
