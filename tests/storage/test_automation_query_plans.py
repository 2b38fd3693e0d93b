"""EXPLAIN the automation's queries on SQLite and PostgreSQL: accepting an event, reading a
contact's history, a rule's counts and the per-minute error alert each reach their rows
through an index, beside a busy server's few thousand events and scheduled messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from builders import T0, make_tenant
from misiva.domain.automation import Outcome, ScheduledStatus, TriggerDefinition
from misiva.storage import Database, Tx
from misiva.storage import app_events as event_store
from misiva.storage import automation_stats as stats_store
from misiva.storage import scheduled as scheduled_store
from misiva.storage import triggers as trigger_store
from misiva.storage.tables_automation import app_events, scheduled_messages
from plans import Plan, plans_of

BULK = 3000
BIG = ("app_events", "scheduled_messages")
RULE = TriggerDefinition("order.placed", "receipt", "hola@shop.test")


@pytest.fixture
async def seeded(db: Database) -> AsyncIterator[tuple[Database, int, int]]:
    """A busy server: a month of events (one every 15 minutes, with outcomes), each with a
    sent message; a small server beside it. Yields the database, the small server and its
    rule."""
    busy = await make_tenant(db, "busy", "busy.test")
    shop = await make_tenant(db, "shop", "shop.test")
    async with db.transaction() as tx:
        rule = await trigger_store.create_trigger(tx, busy.server.id, "receipt", RULE, T0)
        small = await trigger_store.create_trigger(tx, shop.server.id, "receipt", RULE, T0)
        outcome = [{"trigger_id": rule.id, "trigger_key": "receipt", "version": 1}]
        events, messages = [], []
        for i in range(BULK):
            at = T0 - timedelta(minutes=15 * i)
            kind = Outcome.ERROR if i % 50 == 0 else Outcome.SCHEDULED
            events.append(
                {
                    "server_id": busy.server.id,
                    "event_id": f"e{i}",
                    "name": "order.placed" if i % 3 else "page.viewed",
                    "email": f"user{i % 500}@example.com",
                    "data": {},
                    "occurred_at": at,
                    "received_at": at,
                    "outcome": [{**outcome[0], "outcome": kind.value}],
                }
            )
            messages.append(
                {
                    "id": f"m{i}",
                    "server_id": busy.server.id,
                    "email": f"user{i % 500}@example.com",
                    "stream": "outbound",
                    "send_at": at,
                    "status": ScheduledStatus.SENT.value,
                    "fields": {},
                    "trigger_id": rule.id,
                    "trigger_version": 1,
                    "attempts": 1,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        await tx.execute(sa.insert(app_events), events)
        await tx.execute(sa.insert(scheduled_messages), messages)
    if db.is_postgres:
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("ANALYZE")
    yield db, shop.server.id, small.id


def _indexed(plans: list[Plan], *indexes: str) -> None:
    """No plan reads a whole big table, and one searches one of these indexes (any index,
    when none is named: on a small server the planner may rightly pick another)."""
    assert plans, "nothing ran"
    for plan in plans:
        assert not plan.scans(BIG), str(plan)
        assert plan.accesses, str(plan)
    if indexes:
        found = any(p.searches(i) for p in plans for i in indexes)
        assert found, "\n\n".join(map(str, plans))


async def test_accepting_an_event_reads_through_indexes(
    seeded: tuple[Database, int, int],
) -> None:
    db, server, rule = seeded

    async def accept(tx: Tx) -> None:
        await event_store.insert_event(
            tx,
            server_id=server,
            event_id="e1",
            name="order.placed",
            email="user1@example.com",
            data={},
            occurred_at=T0,
            now=T0,
        )
        await event_store.insert_event(
            tx,
            server_id=server,
            event_id="e1",
            name="order.placed",
            email="user1@example.com",
            data={},
            occurred_at=T0,
            now=T0,
        )

    _indexed([p for p in await plans_of(db, accept) if p.sql.startswith("SELECT")])

    async def capped(tx: Tx) -> None:
        await scheduled_store.fired_since(tx, rule, "user1@example.com", T0 - timedelta(days=1))

    _indexed(await plans_of(db, capped), "ix_scheduled_trigger")


async def test_history_counts_and_the_error_alert_read_through_indexes(
    seeded: tuple[Database, int, int],
) -> None:
    db, server, _ = seeded

    async def history(tx: Tx) -> None:
        await event_store.contact_history(tx, server, "user1@example.com", limit=20)

    _indexed(await plans_of(db, history), "ix_app_events_contact")

    async def recent(tx: Tx) -> None:
        await stats_store.recent_errors(tx, server, T0 - timedelta(hours=1))

    _indexed(await plans_of(db, recent), "ix_app_events_received")

    async def failures(tx: Tx) -> None:
        await stats_store.recent_failures(tx, server, T0 - timedelta(hours=1))

    _indexed(await plans_of(db, failures), "ix_scheduled_server")

    async def by_name(tx: Tx) -> None:
        await event_store.list_events(
            tx, server, names=("order.placed",), since=T0 - timedelta(days=1), until=T0
        )

    _indexed(await plans_of(db, by_name), "ix_app_events_name")
