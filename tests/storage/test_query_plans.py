"""EXPLAIN the hot queries on SQLite and PostgreSQL: each reaches its rows through an index.

The database is seeded once per backend with a busy server's few thousand settled messages
(their events, webhook deliveries, captured copies, bounces, suppressions and idempotency
keys) beside a small server
and a handful of due messages, so that a sequential scan is not free. PostgreSQL is then
analysed, as autovacuum would have done; SQLite is not, because Misiva never runs ANALYZE
there and its planner works without statistics in production too. Each test calls the real
storage function in a transaction that is rolled back, and explains every statement it
ran, with its own parameters.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from builders import T0, Tenant, make_tenant, new_message
from harness import asyncpg_dsn
from misiva.domain.delivery import AttemptResult, EventRecord
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.records import CapturedMessage, NewMessage
from misiva.events.record import record_queued
from misiva.storage import (
    Database,
    Tx,
    capture,
    idempotency,
    queue,
    retention,
    search,
    subscriptions,
    suppressions,
    tables,
)
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import webhooks as webhook_store
from misiva.storage.tables_blocks import message_blocks
from plans import Plan, plans_of

BACKENDS = ("sqlite", "postgresql")
BULK = 3000  # settled messages of the busy server: what no hot query may read through
SHOP = 300  # the small server's settled messages
DUE = 5
OLD = 5  # settled messages past the data retention
SUPPRESSED = 3000
IDEMPOTENCY_KEYS = 3000
WEBHOOKS_DUE = 10
SUBSCRIBED = 3000  # confirmed subscribers of the busy server's broadcast stream
PENDING_EXPIRED = 3
LEASE = timedelta(minutes=5)
TAGS = ("order", "welcome", "reset")
BIG = (
    "messages",
    "message_events",
    "webhook_deliveries",
    "earlier",  # SQLite names a table by its alias: webhook_deliveries in the claim
    "suppressions",
    "idempotency_keys",
    "captured_messages",
    "bounces",
    "subscriptions",
    "message_blocks",
)


Planner = Callable[[Callable[[Tx], Awaitable[object]]], Awaitable[list[Plan]]]


@dataclass(frozen=True, slots=True)
class Seeded:
    backend: str
    url: str
    bulk: int
    shop: int
    # A settled message of the small server, with a timeline of two events, and its recipient.
    message_id: str
    recipient: str
    suppressed: str
    due: tuple[str, ...]


def _settled(tenant: Tenant, index: int, name: str) -> NewMessage:
    # One every 15 minutes, back from T0: a month of traffic.
    message = new_message(
        tenant, (f"{name}{index}@example.com",), at=T0 - timedelta(minutes=15 * index)
    )
    return replace(message, tag=TAGS[index % len(TAGS)])


async def _seed_messages(
    db: Database, bulk: Tenant, shop: Tenant
) -> tuple[list[NewMessage], list[NewMessage]]:
    """Settled messages (the small server's with a second event), old ones for retention,
    due ones, and deferred ones due later."""
    settled = [_settled(bulk, i, "user") for i in range(BULK)]
    settled += [_settled(shop, i, "customer") for i in range(SHOP)]
    settled += [
        new_message(bulk, (f"old{i}@example.com",), at=T0 - timedelta(days=400)) for i in range(OLD)
    ]
    due = [new_message(shop, (f"due{i}@example.com",), at=T0) for i in range(DUE)]
    later = [new_message(shop, (f"later{i}@example.com",), at=T0) for i in range(DUE)]
    async with db.transaction() as tx:
        await record_queued(tx, [*settled, *due, *later])
        await queue.record_attempts(
            tx,
            [
                AttemptResult(
                    m.id,
                    MessageStatus.DELIVERED,
                    {m.recipients[0]: "delivered"},
                    m.accepted_at,
                    m.accepted_at,
                )
                for m in settled
            ]
            + [
                AttemptResult(
                    m.id,
                    MessageStatus.DEFERRED,
                    {m.recipients[0]: "pending"},
                    T0 + timedelta(hours=1),
                    T0,
                )
                for m in later
            ],
        )
        await event_store.insert_events(
            tx,
            [
                EventRecord(
                    m.id, m.server_id, EventType.DELIVERED, m.recipients[0], m.accepted_at, {}
                )
                for m in settled[BULK:]
            ],
        )
    return settled, due


async def _seed_webhooks(tx: Tx, bulk: Tenant, settled: list[NewMessage]) -> None:
    """The busy server's webhook outbox: a delivered history and a few deliveries due."""
    hook = await webhook_store.insert_webhook(
        tx,
        server_id=bulk.server.id,
        url="https://hooks.test/misiva",
        stream="outbound",
        secret="secret",
        http_auth=None,
        http_headers=[],
        triggers={"Delivery": {"Enabled": True}},
        created_at=T0,
    )
    # The outbox has no batch writer for settled rows (the dispatcher settles one at a time),
    # and a few thousand single updates would be most of this module's time.
    history = [
        {
            "webhook_id": hook.id,
            "server_id": bulk.server.id,
            "message_id": m.id,
            "event_id": i + 1,
            "record_type": "Delivery",
            "payload": {},
            "status": webhook_store.DELIVERED,
            "attempts": 1,
            "next_attempt_at": m.accepted_at,
            "created_at": m.accepted_at,
            "delivered_at": m.accepted_at,
        }
        for i, m in enumerate(settled)
    ]
    await tx.execute(sa.insert(tables.webhook_deliveries), history)
    await webhook_store.insert_deliveries(
        tx,
        [
            webhook_store.NewDelivery(hook.id, bulk.server.id, m.id, BULK + i, "Delivery")
            for i, m in enumerate(settled[:WEBHOOKS_DUE])
        ],
        T0,
    )


async def _seed_returned(tx: Tx, returned: list[NewMessage]) -> None:
    """A captured copy and a bounce of each of these messages, as old as the message: what
    retention purges by age. Bounces go in one batch: their storage function writes one row
    at a time, as the bounce receiver does."""
    await capture.insert_captured(
        tx,
        [
            CapturedMessage(
                0, m.id, m.server_id, m.envelope_from, list(m.recipients), m.mime, m.accepted_at
            )
            for m in returned
        ],
    )
    await tx.execute(
        sa.insert(tables.bounces),
        [
            {
                "server_id": m.server_id,
                "message_id": m.id,
                "stream": m.stream,
                "type": "HardBounce",
                "email": m.recipients[0],
                "sender": m.sender,
                "subject": m.subject,
                "details": "550 5.1.1 no such user",
                "inactive": True,
                "can_activate": True,
                "dump": b"Subject: Undelivered Mail Returned to Sender\r\n\r\n",
                "bounced_at": m.accepted_at,
            }
            for m in returned
        ],
    )


async def _seed_lookups(tx: Tx, bulk: Tenant) -> None:
    """Suppressed addresses and remembered responses of the busy server, in one batch each
    (their storage functions write one row at a time, as accepting a send does)."""
    await tx.execute(
        sa.insert(tables.suppressions),
        [
            {
                "server_id": bulk.server.id,
                "stream": "outbound",
                "email": f"user{i}@example.com",
                "reason": "HardBounce",
                "origin": "Recipient",
                "created_at": T0,
            }
            for i in range(SUPPRESSED)
        ],
    )
    await tx.execute(
        sa.insert(tables.idempotency_keys),
        [
            {
                "server_id": bulk.server.id,
                "key": f"key-{i}",
                "status_code": 200,
                "response": {"MessageID": str(i)},
                "created_at": T0 - timedelta(minutes=i),
            }
            for i in range(IDEMPOTENCY_KEYS)
        ],
    )
    expired = range(SUBSCRIBED, SUBSCRIBED + PENDING_EXPIRED)
    await tx.execute(
        sa.insert(tables.subscriptions),
        [
            {
                "server_id": bulk.server.id,
                "stream": "broadcast",
                "email": f"fan{i}@example.com",
                "status": "pending" if i in expired else "confirmed",
                "source": "form",
                "created_at": T0 - timedelta(days=3),
                "updated_at": T0 - timedelta(days=3),
                "requested_at": T0 - timedelta(days=3),
                "confirmed_at": None if i in expired else T0 - timedelta(days=3),
                "expires_at": T0 - timedelta(days=1) if i in expired else None,
            }
            for i in range(SUBSCRIBED + PENDING_EXPIRED)
        ],
    )


async def _seed_blocks(tx: Tx, messages: list[NewMessage]) -> None:
    """The busy server's messages each had a content block in a slot."""
    await tx.execute(
        sa.insert(message_blocks),
        [
            {
                "server_id": m.server_id,
                "message_id": m.id,
                "slot": "cross_sell",
                "block_id": 1,
                "variant": "A",
                "at": m.accepted_at,
            }
            for m in messages
        ],
    )


async def _seed(backend: str, url: str) -> Seeded:
    db = Database(url)
    try:
        bulk = await make_tenant(db, "bulk", "bulk.test")
        shop = await make_tenant(db, "shop", "shop.test")
        settled, due = await _seed_messages(db, bulk, shop)
        async with db.transaction() as tx:
            await _seed_webhooks(tx, bulk, settled[:BULK])
            # The busy server's messages, the old ones included (they close the list).
            await _seed_returned(tx, settled[:BULK] + settled[BULK + SHOP :])
            await _seed_blocks(tx, settled[:BULK] + settled[BULK + SHOP :])
            await _seed_lookups(tx, bulk)
            if db.is_postgres:
                await tx.exec_driver_sql("ANALYZE")
    finally:
        await db.close()
    message = settled[BULK + 7]
    return Seeded(
        backend=backend,
        url=url,
        bulk=bulk.server.id,
        shop=shop.server.id,
        message_id=message.id,
        recipient=message.recipients[0],
        suppressed="user7@example.com",
        due=tuple(m.id for m in due),
    )


async def _truncate(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        names = ", ".join(f'"{t.name}"' for t in tables.metadata.sorted_tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Seeded once per backend (seeding is most of this module's time); tests only roll back."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("plans") / "misiva.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        asyncio.run(_truncate(url))
    return asyncio.run(_seed(request.param, url))


@pytest.fixture
async def planned(seeded: Seeded) -> AsyncIterator[Planner]:
    """The plans of what a piece of work runs, on the seeded database."""
    db = Database(seeded.url)

    async def explain(work: Callable[[Tx], Awaitable[object]]) -> list[Plan]:
        return await plans_of(db, work)

    yield explain
    await db.close()


def _assert_searches(plan: Plan, index: str) -> None:
    assert plan.searches(index), f"expected a search of {index}:\n{plan}"
    assert not plan.scans(BIG), f"a full scan of a big table:\n{plan}"


def _assert_searches_one_of(plan: Plan, *indexes: str) -> None:
    assert any(plan.searches(i) for i in indexes), f"expected a search of {indexes}:\n{plan}"
    assert not plan.scans(BIG), f"a full scan of a big table:\n{plan}"


def _pk(seeded: Seeded, table: str) -> str:
    """The primary key's index: SQLite's automatic one for a non-integer key, or ours."""
    return f"sqlite_autoindex_{table}_1" if seeded.backend == "sqlite" else f"pk_{table}"


# SQLite uses a partial index only when the query's WHERE implies the index's. It compares a
# bound value with the index's literal for `status = ?` (the webhook claim below does use its
# partial index), but not inside an IN list: `status IN (?, ?)` never matches
# `status IN ('queued', 'deferred')`, which is why the queue renders those statuses as
# literals. PostgreSQL's custom plans see the values and would match either way.
async def test_delivery_claim_searches_the_partial_due_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def claim(tx: Tx) -> None:
        claimed = await queue.claim_due(
            tx, worker_id="w1", now=T0, lease_until=T0 + LEASE, limit=50
        )
        assert len(claimed) == DUE

    # One claim per priority (transactional, then commercial), each a range of the index.
    plans = await planned(claim)
    assert len(plans) == 2
    for plan in plans:
        _assert_searches(plan, "ix_messages_due")


async def test_next_due_time_reads_the_partial_due_index(seeded: Seeded, planned: Planner) -> None:
    async def next_due(tx: Tx) -> None:
        assert await queue.next_due_at(tx) == T0

    plans = await planned(next_due)
    assert len(plans) == 2
    for plan in plans:
        _assert_searches(plan, "ix_messages_due")


async def test_message_by_id_searches_the_primary_key(seeded: Seeded, planned: Planner) -> None:
    async def read(tx: Tx) -> None:
        assert await message_store.get_message(tx, seeded.message_id, seeded.shop) is not None
        assert await message_store.get_message(tx, seeded.message_id) is not None

    for plan in await planned(read):
        _assert_searches(plan, _pk(seeded, "messages"))


async def test_messages_by_ids_search_the_primary_key(seeded: Seeded, planned: Planner) -> None:
    async def read(tx: Tx) -> None:
        found = await message_store.get_messages(tx, [*seeded.due, seeded.message_id])
        assert len(found) == DUE + 1

    [plan] = await planned(read)
    _assert_searches(plan, _pk(seeded, "messages"))


async def test_message_timeline_searches_the_event_index(seeded: Seeded, planned: Planner) -> None:
    async def read(tx: Tx) -> None:
        assert len(await event_store.list_events(tx, seeded.message_id)) == 2

    [plan] = await planned(read)
    _assert_searches(plan, "ix_message_events_message")


async def test_server_events_of_one_message_search_the_message_index(
    seeded: Seeded, planned: Planner
) -> None:
    # Without statistics SQLite rates two equalities on (server_id, type) above one on
    # message_id, and would count through every event of that type the server ever had if
    # the message index did not hold server_id and type too.
    async def read(tx: Tx) -> None:
        total, _ = await event_store.list_server_events(
            tx, seeded.shop, EventType.DELIVERED, message_id=seeded.message_id
        )
        assert total == 1

    for plan in await planned(read):
        _assert_searches(plan, "ix_message_events_message")


async def test_first_open_check_searches_the_message_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def check(tx: Tx) -> None:
        opened = await event_store.has_event(
            tx, seeded.message_id, seeded.recipient, EventType.OPENED
        )
        assert not opened

    [plan] = await planned(check)
    _assert_searches(plan, "ix_message_events_message")


async def test_server_events_of_one_type_search_the_server_type_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def read(tx: Tx) -> None:
        total, _ = await event_store.list_server_events(
            tx, seeded.shop, EventType.DELIVERED, recipient=seeded.recipient
        )
        assert total == 1

    for plan in await planned(read):
        _assert_searches(plan, "ix_message_events_server_type")


async def test_webhook_claim_searches_the_partial_due_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def claim(tx: Tx) -> None:
        claimed = await webhook_store.claim_due(tx, now=T0, lease_until=T0 + LEASE, limit=50)
        assert len(claimed) == WEBHOOKS_DUE

    [plan] = await planned(claim)
    _assert_searches(plan, "ix_webhook_deliveries_due")
    # Whether an earlier delivery of the same message is still pending: SQLite searches the
    # order index for each candidate; PostgreSQL hashes the pending rows, which it reads from
    # the partial due index (allowed by _assert_searches: that index holds only pending rows).
    if seeded.backend == "sqlite":
        _assert_searches(plan, "ix_webhook_deliveries_order")


async def test_message_search_by_tag_and_recipient_searches_the_server_index(
    seeded: Seeded, planned: Planner
) -> None:
    # No index serves a tag or a recipient (a substring of the JSON recipient list); the
    # server index bounds the search to one server's messages, in the order pages show them.
    async def find(tx: Tx) -> None:
        by_tag = search.MessageQuery(tag="welcome")
        total, _ = await search.search_messages(tx, seeded.shop, by_tag, limit=50, offset=0)
        assert total == SHOP // len(TAGS)
        by_recipient = search.MessageQuery(recipient=seeded.recipient)
        total, _ = await search.search_messages(tx, seeded.shop, by_recipient, limit=50, offset=0)
        assert total == 1

    for plan in await planned(find):
        _assert_searches(plan, "ix_messages_server_accepted")


async def test_suppression_check_at_accept_searches_an_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def check(tx: Tx) -> None:
        emails = [seeded.suppressed, "nobody@example.com"]
        found = await suppressions.suppressed_among(tx, seeded.bulk, "outbound", emails)
        assert found == {seeded.suppressed: "HardBounce"}

    [plan] = await planned(check)
    # PostgreSQL may take the (server_id, email) index the preference centre reads by: it is
    # as selective here (the addresses are the point of both), and the stream is a filter.
    _assert_searches_one_of(plan, _pk(seeded, "suppressions"), "ix_suppressions_server_email")


async def test_opt_in_check_at_accept_searches_an_index(seeded: Seeded, planned: Planner) -> None:
    async def check(tx: Tx) -> None:
        emails = ["fan7@example.com", "nobody@example.com"]
        found = await subscriptions.confirmed_among(tx, seeded.bulk, "broadcast", emails)
        assert found == {"fan7@example.com"}

    [plan] = await planned(check)
    # As for suppressions: either index narrows the search to the addresses.
    _assert_searches_one_of(plan, _pk(seeded, "subscriptions"), "ix_subscriptions_server_email")


async def test_preference_centre_reads_one_address_by_its_indexes(
    seeded: Seeded, planned: Planner
) -> None:
    async def read(tx: Tx) -> None:
        assert await suppressions.streams_suppressing(tx, seeded.bulk, seeded.suppressed)
        assert await subscriptions.list_for_address(tx, seeded.bulk, "fan7@example.com")

    [suppressed, subscribed] = await planned(read)
    _assert_searches(suppressed, "ix_suppressions_server_email")
    _assert_searches_one_of(
        subscribed, "ix_subscriptions_server_email", _pk(seeded, "subscriptions")
    )


async def test_retention_finds_old_events_of_no_message_by_the_message_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def delete(tx: Tx) -> None:
        await retention.delete_old_addressless(tx, T0 - timedelta(days=365), 500)

    [plan] = await planned(delete)
    # The index that leads with message_id holds the NULLs together too.
    _assert_searches(plan, "ix_message_events_message")


async def test_expiry_purge_finds_expired_requests_by_the_partial_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def purge(tx: Tx) -> None:
        assert await subscriptions.purge_expired(tx, T0, 500) == PENDING_EXPIRED

    [find, *_deletes] = await planned(purge)
    _assert_searches(find, "ix_subscriptions_expiring")


async def test_idempotency_lookup_searches_the_primary_key(
    seeded: Seeded, planned: Planner
) -> None:
    async def find(tx: Tx) -> None:
        found = await idempotency.find_response(tx, seeded.bulk, "key-7", T0 - timedelta(days=1))
        assert found == (200, {"MessageID": "7"})

    [plan] = await planned(find)
    _assert_searches(plan, _pk(seeded, "idempotency_keys"))


# Retention looks for old rows of every server at once, so it needs indexes that lead with
# the age column: through ix_messages_server_accepted or ix_bounces_server_bounced, SQLite
# would scan the table and PostgreSQL (before 18, which skips) read the whole index, on
# every hourly pass, even when nothing is old.
async def test_retention_finds_old_messages_by_an_index(seeded: Seeded, planned: Planner) -> None:
    async def delete(tx: Tx) -> None:
        assert await retention.delete_old(tx, T0 - timedelta(days=365), 500) == OLD

    [find, *_deletes] = await planned(delete)
    _assert_searches(find, "ix_messages_accepted")


async def test_retention_deletes_through_message_indexes(seeded: Seeded, planned: Planner) -> None:
    async def delete(tx: Tx) -> None:
        assert await retention.delete_old(tx, T0 - timedelta(days=365), 500) == OLD

    [_find, events, bounces, blocks, messages] = await planned(delete)
    _assert_searches(events, "ix_message_events_message")
    _assert_searches(bounces, "ix_bounces_message")
    # The unique (message_id, slot): ours on PostgreSQL, SQLite's automatic index there.
    unique = "uq_message_blocks_message_id_slot"
    sqlite_unique = "sqlite_autoindex_message_blocks_1"
    _assert_searches(blocks, unique if seeded.backend == "postgresql" else sqlite_unique)
    _assert_searches(messages, _pk(seeded, "messages"))


async def test_content_purge_finds_old_messages_by_an_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def purge(tx: Tx) -> None:
        assert await retention.purge_content(tx, T0 - timedelta(days=45), 500) == OLD

    [find, *_others] = await planned(purge)
    _assert_searches(find, "ix_messages_accepted")


async def test_content_purge_finds_old_captured_mail_and_bounces_by_an_index(
    seeded: Seeded, planned: Planner
) -> None:
    async def purge(tx: Tx) -> None:
        assert await retention.purge_content(tx, T0 - timedelta(days=45), 500) == OLD

    [_find, captured, bounces] = await planned(purge)
    _assert_searches(captured, "ix_captured_messages_created")
    _assert_searches(bounces, "ix_bounces_bounced")
