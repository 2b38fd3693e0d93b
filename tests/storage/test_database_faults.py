"""The database failing under Misiva, on SQLite and PostgreSQL: a killed connection, a lock held
too long and an unreachable server are DatabaseUnavailable (HTTP 503, a worker's next round),
never a driver error that stops `misiva serve`; and the queue's corrections after the wall
clock steps (found by tests/e2e/test_faults_database.py and test_faults_clock.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from builders import T0, make_tenant, new_message
from harness import asyncpg_dsn
from misiva.domain.errors import DatabaseUnavailable
from misiva.events.record import record_queued
from misiva.storage import Database, queue, sqlite_inline
from misiva.storage import events as event_store
from misiva.storage import webhooks as webhook_store

LEASE = timedelta(minutes=5)


async def test_a_killed_postgres_connection_is_database_unavailable(db: Database) -> None:
    # Before: asyncpg's "connection was closed in the middle of operation" passed through as
    # a bare DBAPIError, the worker's loop did not catch it, and `misiva serve` exited.
    if not db.is_postgres:
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    admin = await asyncpg.connect(asyncpg_dsn(db.url), timeout=5)
    try:
        with pytest.raises(DatabaseUnavailable):
            async with db.transaction() as tx:
                pid = (await tx.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                await tx.execute(sa.text("SELECT 1"))
        async with db.transaction() as tx:  # the pool hands out a live connection again
            assert (await tx.execute(sa.text("SELECT 1"))).scalar_one() == 1
    finally:
        await admin.close()


async def test_a_lock_held_past_the_timeout_is_database_unavailable(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite's side is the next test")
    admin = await asyncpg.connect(asyncpg_dsn(db.url), timeout=5)
    try:
        async with admin.transaction():
            await admin.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(DatabaseUnavailable):
                async with db.transaction() as tx:
                    # The real bound is engine.LOCK_TIMEOUT_MS; a short one keeps this quick.
                    await tx.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                    await tx.execute(sa.text("SELECT count(*) FROM messages"))
    finally:
        await admin.close()


async def test_sqlite_locked_past_patience_is_database_unavailable(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.is_postgres:
        pytest.skip("PostgreSQL's side is the test above")
    monkeypatch.setattr(sqlite_inline, "BUSY_PATIENCE_SECONDS", 0.2)
    holder = sqlite3.connect(make_url(db.url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseUnavailable):
            async with db.transaction() as tx:
                await tx.execute(sa.text("DELETE FROM messages"))
    finally:
        holder.close()


async def test_an_unreachable_database_is_unavailable_without_its_password() -> None:
    database = Database("postgresql://misiva:s3cret@127.0.0.1:1/misiva")
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            async with database.transaction():
                pass
    finally:
        await database.close()
    assert "s3cret" not in raised.value.message and "127.0.0.1:1" in raised.value.message


async def test_a_pool_with_every_connection_busy_is_database_unavailable(
    database_url: str,
) -> None:
    # The PostgreSQL pool has no overflow (engine.py): past it a transaction waits, and a
    # wait past the pool timeout is a 503 to try again, not a driver error (a 500).
    db = Database(database_url, pool_size=1, pool_timeout=0.3)
    held = 2 if db.is_postgres else 1  # PostgreSQL's pool is twice pool_size
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(held):
                await stack.enter_async_context(db.reading())
            with pytest.raises(DatabaseUnavailable, match=r"no connection .* came free"):
                async with db.reading():
                    pass
        async with db.reading() as tx:  # free again once they are returned
            assert (await tx.execute(sa.text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.close()


async def test_after_a_step_back_waiting_retries_are_due_and_leases_kept(db: Database) -> None:
    tenant = await make_tenant(db)
    in_flight, waiting = new_message(tenant), new_message(tenant, at=T0 + timedelta(hours=1))
    async with db.transaction() as tx:
        await record_queued(tx, [in_flight, waiting])
        await queue.claim_due(tx, worker_id="w1", now=T0, lease_until=T0 + LEASE, limit=1)
    async with db.transaction() as tx:
        assert await queue.make_waiting_due(tx, T0) == 1
    async with db.transaction() as tx:
        claimed = await queue.claim_due(
            tx, worker_id="w2", now=T0, lease_until=T0 + LEASE, limit=10
        )
    assert [m.id for m in claimed] == [waiting.id]


async def test_after_a_step_forward_a_workers_leases_are_renewed(db: Database) -> None:
    tenant = await make_tenant(db)
    mine, theirs = new_message(tenant), new_message(tenant)
    async with db.transaction() as tx:
        await record_queued(tx, [mine, theirs])
    async with db.transaction() as tx:
        await queue.claim_due(tx, worker_id="w1", now=T0, lease_until=T0 + LEASE, limit=1)
        await queue.claim_due(tx, worker_id="w2", now=T0, lease_until=T0 + LEASE, limit=1)
    later = T0 + timedelta(minutes=15)  # the clock jumped past both leases
    async with db.transaction() as tx:
        assert await queue.extend_leases(tx, "w1", later + LEASE) == 1
    async with db.transaction() as tx:
        again = await queue.claim_due(
            tx, worker_id="w3", now=later, lease_until=later + LEASE, limit=10
        )
    # Only the other worker's lease ran out; w1's message is still its own.
    assert len(again) == 1 and again[0].id != mine.id


async def test_waiting_is_not_made_due_twice(db: Database) -> None:
    # Several processes may each see the same step: the second correction changes nothing.
    tenant = await make_tenant(db)
    async with db.transaction() as tx:
        await record_queued(tx, [new_message(tenant, at=T0 + timedelta(hours=1))])
    results = []
    for _ in range(2):
        async with db.transaction() as tx:
            results.append(await queue.make_waiting_due(tx, T0))
    assert results == [1, 0]


async def test_after_a_step_back_waiting_webhook_posts_are_due(db: Database) -> None:
    tenant = await make_tenant(db)
    message = new_message(tenant)
    async with db.transaction() as tx:
        await record_queued(tx, [message])
        [event] = await event_store.list_events(tx, message.id)
        hook = await webhook_store.insert_webhook(
            tx,
            server_id=tenant.server.id,
            url="https://hooks.test/misiva",
            stream="outbound",
            secret="secret",
            http_auth=None,
            http_headers=[],
            triggers={"Delivery": {"Enabled": True}},
            created_at=T0,
        )
        delivery = webhook_store.NewDelivery(
            hook.id, tenant.server.id, message.id, event.id, "Delivery"
        )
        # Timed by a clock an hour ahead, as a retry is before the clock steps back.
        await webhook_store.insert_deliveries(tx, [delivery], T0 + timedelta(hours=1))
    async with db.transaction() as tx:
        assert await webhook_store.claim_due(tx, now=T0, lease_until=T0 + LEASE, limit=5) == []
        assert await webhook_store.make_waiting_due(tx, T0) == 1
        assert len(await webhook_store.claim_due(tx, now=T0, lease_until=T0 + LEASE, limit=5)) == 1
