"""The dashboard's rollups on SQLite and PostgreSQL: what a fold counts along each dimension,
latency percentiles from the histogram, and that no event is ever counted twice or lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from builders import T0, Tenant, make_tenant, new_message
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.stats import Dimension, Metric, Step, latency_bucket, percentile
from misiva.events.record import record_queued
from misiva.storage import Database, rollups
from misiva.storage import events as event_log
from misiva.storage.tables import message_events

HOUR = T0.replace(minute=0, second=0, microsecond=0)
LATER = T0 + timedelta(days=1)


def _event(
    tenant: Tenant,
    message_id: str,
    kind: EventType,
    recipient: str,
    at: datetime,
    **details: str,
) -> EventRecord:
    return EventRecord(message_id, tenant.server.id, kind, recipient, at, details)


async def _fold_all(db: Database, now: datetime = LATER, batch: int = 1000) -> int:
    read = 0
    for _ in range(100):
        async with db.transaction() as tx:
            folded = await rollups.fold(tx, now=now, batch=batch)
        read += folded.events
        if folded.events == 0:
            return read
    raise AssertionError("the folds never caught up")


async def _breakdown(
    db: Database, tenant: Tenant, dimension: Dimension, step: Step = Step.HOUR
) -> dict[str, dict[Metric, int]]:
    since = HOUR.replace(hour=0) - timedelta(days=1)
    async with db.reading() as tx:
        return await rollups.breakdown(tx, tenant.server.id, dimension, step, since)


async def _store_story(db: Database, tenant: Tenant) -> None:
    """Three messages: one delivered, opened and clicked; one to two recipients, of whom one
    bounces hard; one on another stream with a template, delivered and complained about."""
    one = new_message(tenant, ("ana@example.com",))
    two = replace(new_message(tenant, ("bo@gmail.com", "cy@example.com")), tag=None)
    three = replace(
        new_message(tenant, ("di@gmail.com",)), stream="broadcasts", template_id=7, tag="news"
    )
    at = T0 + timedelta(seconds=2)
    async with db.transaction() as tx:
        await record_queued(tx, [one, two, three])
        await event_log.insert_events(
            tx,
            [
                _event(tenant, one.id, EventType.DELIVERED, "ana@example.com", at),
                _event(tenant, one.id, EventType.OPENED, "ana@example.com", at),
                _event(tenant, one.id, EventType.CLICKED, "ana@example.com", at),
                _event(
                    tenant, two.id, EventType.DELIVERED, "bo@gmail.com", T0 + timedelta(seconds=1)
                ),
                _event(
                    tenant,
                    two.id,
                    EventType.BOUNCED,
                    "cy@example.com",
                    at,
                    bounce_type="HardBounce",
                    reply="550 5.1.1 <cy@example.com>: Recipient address rejected: User unknown",
                ),
                # The second delivery of a message is no new latency: the first one counts.
                _event(tenant, two.id, EventType.DELIVERED, "bo@gmail.com", at),
                _event(
                    tenant, three.id, EventType.DELIVERED, "di@gmail.com", T0 + timedelta(hours=1)
                ),
                _event(tenant, three.id, EventType.COMPLAINED, "di@gmail.com", LATER),
                _event(tenant, three.id, EventType.DEFERRED, "di@gmail.com", at),
            ],
        )


async def test_a_fold_counts_each_dimension_and_metric(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)
    assert await _fold_all(db) == 3 + 9
    total = (await _breakdown(db, tenant, Dimension.ALL))[""]
    assert total == {
        Metric.SENT: 4,
        Metric.DELIVERED: 4,
        Metric.BOUNCED: 1,
        Metric.OPENED: 1,
        Metric.CLICKED: 1,
        Metric.COMPLAINED: 1,
    }
    streams = await _breakdown(db, tenant, Dimension.STREAM)
    assert streams["outbound"][Metric.SENT] == 3
    assert streams["broadcasts"] == {Metric.SENT: 1, Metric.DELIVERED: 1, Metric.COMPLAINED: 1}
    templates = await _breakdown(db, tenant, Dimension.TEMPLATE)
    assert templates["7"][Metric.SENT] == 1 and templates[""][Metric.SENT] == 3
    tags = await _breakdown(db, tenant, Dimension.TAG)
    assert tags["order"][Metric.SENT] == 1 and tags[""][Metric.SENT] == 2
    assert tags["news"][Metric.COMPLAINED] == 1
    domains = await _breakdown(db, tenant, Dimension.DOMAIN)
    assert domains["gmail.com"] == {Metric.SENT: 2, Metric.DELIVERED: 3, Metric.COMPLAINED: 1}
    assert domains["example.com"][Metric.SENT] == 2
    assert domains["example.com"][Metric.BOUNCED] == 1
    assert await _breakdown(db, tenant, Dimension.DOMAIN, Step.DAY) == domains
    reasons = await _breakdown(db, tenant, Dimension.BOUNCE_REASON)
    assert await _breakdown(db, tenant, Dimension.BOUNCE_REASON, Step.DAY) == reasons
    assert reasons == {
        "HardBounce 5.1.1 …: Recipient address rejected: User unknown": {Metric.BOUNCED: 1}
    }


async def test_totals_fall_in_the_hour_and_day_of_their_event(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)
    await _fold_all(db)
    async with db.reading() as tx:
        hours = await rollups.totals(tx, tenant.server.id, Step.HOUR, HOUR)
        days = await rollups.totals(tx, tenant.server.id, Step.DAY, HOUR.replace(hour=0))
    by_day = {(day, metric): n for day, metric, n in days}
    assert by_day[(HOUR.replace(hour=0), Metric.DELIVERED)] == 4
    assert by_day[(LATER.replace(hour=0, minute=0), Metric.COMPLAINED)] == 1
    by_hour = {(hour, metric): n for hour, metric, n in hours}
    assert by_hour[(HOUR, Metric.SENT)] == 4
    assert by_hour[(HOUR, Metric.DELIVERED)] == 3
    assert by_hour[(HOUR + timedelta(hours=1), Metric.DELIVERED)] == 1
    assert by_hour[(LATER.replace(minute=0), Metric.COMPLAINED)] == 1
    async with db.reading() as tx:
        assert await rollups.totals(tx, tenant.server.id, Step.HOUR, LATER + timedelta(1)) == []


async def test_latency_counts_each_messages_first_delivery(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)
    await _fold_all(db)
    async with db.reading() as tx:
        histogram = await rollups.latency_histogram(tx, tenant.server.id, HOUR)
    # Two seconds, one second (the later 2 s delivery of the same message is not counted),
    # one hour.
    assert histogram == {latency_bucket(2): 1, latency_bucket(1): 1, latency_bucket(3600): 1}
    assert percentile(histogram, 0.5) == 2
    assert percentile(histogram, 0.95) == 3600


async def test_folding_again_counts_nothing_twice(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)
    await _fold_all(db)
    before = await _breakdown(db, tenant, Dimension.DOMAIN)
    assert await _fold_all(db) == 0
    assert await _breakdown(db, tenant, Dimension.DOMAIN) == before


async def test_small_batches_and_new_events_add_up_to_one_fold(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)
    assert await _fold_all(db, batch=2) == 12
    extra = new_message(tenant, ("eva@gmail.com",))
    async with db.transaction() as tx:
        await record_queued(tx, [extra])
        await event_log.insert_events(
            tx, [_event(tenant, extra.id, EventType.DELIVERED, "eva@gmail.com", T0)]
        )
    assert await _fold_all(db, batch=2) == 2
    domains = await _breakdown(db, tenant, Dimension.DOMAIN)
    assert domains["gmail.com"][Metric.SENT] == 3
    assert domains["gmail.com"][Metric.DELIVERED] == 4
    async with db.reading() as tx:
        assert not await rollups.behind(tx)
        assert await rollups.watermark(tx) == 14


async def test_concurrent_folds_never_count_an_event_twice(db: Database) -> None:
    tenant = await make_tenant(db)
    await _store_story(db, tenant)

    async def fold_once() -> int:
        async with db.transaction() as tx:
            return (await rollups.fold(tx, now=LATER, batch=1000)).events

    # On PostgreSQL one holds the watermark and the other skips; on SQLite they take turns.
    counted = await asyncio.gather(*(fold_once() for _ in range(4)))
    assert sum(counted) == 12
    total = (await _breakdown(db, tenant, Dimension.ALL))[""]
    assert total[Metric.SENT] == 4 and total[Metric.DELIVERED] == 4


async def test_a_fold_waits_at_a_gap_until_it_settles(db: Database) -> None:
    # A missing id is an event another transaction may still commit (PostgreSQL allocates ids
    # at insert): a fold stops before it, and skips it only once it is old.
    tenant = await make_tenant(db)
    message = new_message(tenant, ("ana@example.com",))
    async with db.transaction() as tx:
        await record_queued(tx, [message])
        ids = await event_log.insert_events(
            tx,
            [_event(tenant, message.id, EventType.OPENED, "ana@example.com", T0) for _ in range(2)],
        )
        await tx.execute(sa.delete(message_events).where(message_events.c.id == ids[0]))
    assert await _fold_all(db, now=T0 + timedelta(seconds=5)) == 1
    assert await _fold_all(db, now=T0 + rollups.SETTLE + timedelta(seconds=1)) == 1
    total = (await _breakdown(db, tenant, Dimension.ALL))[""]
    assert total == {Metric.SENT: 1, Metric.OPENED: 1}
