"""Subscriptions, consent records, streams and the subscription change path, on SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from builders import T0, make_tenant, new_message
from misiva.domain.enums import EventType, StreamType
from misiva.domain.subscriptions import (
    BROADCAST_DEFAULTS,
    ChangeVia,
    ConsentAction,
    ConsentRecord,
    Requester,
    Subscription,
    SubscriptionStatus,
)
from misiva.events.record import record_queued
from misiva.events.subscriptions import SubscriptionChange, record_subscription_change
from misiva.storage import Database
from misiva.storage import events as event_store
from misiva.storage import streams as stream_store
from misiva.storage import subscriptions as subscription_store
from misiva.storage import suppressions as suppression_store
from misiva.storage import webhooks as webhook_store


def _pending(server_id: int, email: str, *, expires_in: timedelta) -> Subscription:
    return Subscription(
        server_id=server_id,
        stream="broadcast",
        email=email,
        status=SubscriptionStatus.PENDING,
        source="form",
        created_at=T0,
        updated_at=T0,
        requested_at=T0,
        expires_at=T0 + expires_in,
    )


async def test_a_subscription_is_saved_replaced_and_found(db: Database) -> None:
    tenant = await make_tenant(db)
    pending = _pending(tenant.server.id, "Ana@Example.com", expires_in=timedelta(hours=48))
    async with db.transaction() as tx:
        await subscription_store.save_subscription(tx, pending)
        await subscription_store.save_subscription(
            tx, replace(pending, status=SubscriptionStatus.CONFIRMED, confirmed_at=T0)
        )
    async with db.reading() as tx:
        found = await subscription_store.get_subscription(
            tx, tenant.server.id, "broadcast", "ana@example.com"
        )
        confirmed = await subscription_store.confirmed_among(
            tx, tenant.server.id, "broadcast", ["ANA@example.com", "bob@example.com"]
        )
        total, listed = await subscription_store.list_for_stream(
            tx, tenant.server.id, "broadcast", status=SubscriptionStatus.CONFIRMED
        )
    assert found is not None and found.email == "ana@example.com"
    assert found.status is SubscriptionStatus.CONFIRMED and found.confirmed_at == T0
    assert confirmed == {"ana@example.com"}
    assert total == 1 and listed == [found]


async def test_purge_drops_expired_requests_and_their_unconfirmed_proof_only(db: Database) -> None:
    tenant = await make_tenant(db)
    server_id = tenant.server.id
    async with db.transaction() as tx:
        for email, hours in (("late@x.test", 1), ("fresh@x.test", 72)):
            await subscription_store.save_subscription(
                tx, _pending(server_id, email, expires_in=timedelta(hours=hours))
            )
            for action in (ConsentAction.REQUESTED, ConsentAction.CONFIRMATION_SENT):
                await subscription_store.insert_consent(
                    tx, ConsentRecord(server_id, "broadcast", email, action, T0, ip="203.0.113.9")
                )
        # An older, confirmed-then-left history of the late address stays as proof.
        await subscription_store.insert_consent(
            tx,
            ConsentRecord(
                server_id,
                "news",
                "late@x.test",
                ConsentAction.UNSUBSCRIBED,
                T0 - timedelta(days=30),
            ),
        )
    async with db.transaction() as tx:
        assert await subscription_store.purge_expired(tx, T0 + timedelta(hours=2), 500) == 1
    async with db.reading() as tx:
        late = await subscription_store.list_for_address(tx, server_id, "late@x.test")
        fresh = await subscription_store.list_for_address(tx, server_id, "fresh@x.test")
        late_proof = await subscription_store.list_consent(tx, server_id, "late@x.test")
        fresh_proof = await subscription_store.list_consent(tx, server_id, "fresh@x.test")
    assert late == [] and len(fresh) == 1
    assert [r.action for r in late_proof] == [ConsentAction.UNSUBSCRIBED]
    assert [r.action for r in fresh_proof] == [
        ConsentAction.REQUESTED,
        ConsentAction.CONFIRMATION_SENT,
    ]
    assert fresh_proof[0].ip == "203.0.113.9"


async def test_streams_keep_their_subscription_settings(db: Database) -> None:
    tenant = await make_tenant(db)
    async with db.transaction() as tx:
        made = await stream_store.insert_stream(
            tx,
            tenant.server.id,
            "news",
            "News",
            StreamType.BROADCASTS,
            T0,
            description="Monthly",
            settings=replace(BROADCAST_DEFAULTS, notice_from="hola@shop.test"),
        )
        await stream_store.update_stream(tx, tenant.server.id, "news", T0, archived_at=T0)
        live = await stream_store.list_streams(tx, tenant.server.id, archived=False)
        found = await stream_store.get_stream(tx, tenant.server.id, "news")
    assert made.subscriptions.notice_from == "hola@shop.test"
    assert made.subscriptions.require_opt_in and made.subscriptions.handles_unsubscribe
    assert [s.stream_id for s in live] == ["outbound"]
    assert found is not None and found.archived_at == T0 and found.description == "Monthly"


async def test_unsubscribe_then_resubscribe_records_events_proof_and_webhooks(
    db: Database,
) -> None:
    tenant = await make_tenant(db)
    server_id = tenant.server.id
    message = replace(new_message(tenant), stream="broadcast")
    async with db.transaction() as tx:
        await record_queued(tx, [message])
        await webhook_store.insert_webhook(
            tx,
            server_id=server_id,
            url="https://hooks.test/",
            stream="broadcast",
            secret="s",
            http_auth=None,
            http_headers=[],
            triggers={"SubscriptionChange": {"Enabled": True}},
            created_at=T0,
        )
    leave = SubscriptionChange(
        server_id,
        "broadcast",
        "ana@example.com",
        False,
        T0,
        Requester("198.51.100.4", "Gmail", ChangeVia.ONE_CLICK),
        message.id,
    )
    join = replace(leave, subscribed=True, at=T0 + timedelta(days=1), message_id=None)
    async with db.transaction() as tx:
        assert await record_subscription_change(tx, leave)
        # A second one-click POST changes nothing and records nothing.
        assert not await record_subscription_change(tx, leave)
    async with db.reading() as tx:
        suppressed = await suppression_store.suppressed_among(
            tx, server_id, "broadcast", ["ana@example.com"]
        )
    assert suppressed == {"ana@example.com": "ManualSuppression"}
    async with db.transaction() as tx:
        assert await record_subscription_change(tx, join)
    async with db.transaction() as tx:
        suppressed = await suppression_store.suppressed_among(
            tx, server_id, "broadcast", ["ana@example.com"]
        )
        proof = await subscription_store.list_consent(tx, server_id, "ana@example.com")
        timeline = await event_store.list_events(tx, message.id)
        total, changes = await event_store.list_server_events(
            tx, server_id, EventType.SUBSCRIPTION_CHANGED
        )
        due = await webhook_store.claim_due(
            tx, now=T0 + timedelta(days=2), lease_until=T0 + timedelta(days=3), limit=10
        )
    assert suppressed == {}
    assert [(r.action, r.ip, r.source) for r in proof] == [
        (ConsentAction.UNSUBSCRIBED, "198.51.100.4", "one-click"),
        (ConsentAction.RESUBSCRIBED, "198.51.100.4", "one-click"),
    ]
    assert [e.type for e in timeline] == [EventType.QUEUED, EventType.SUBSCRIPTION_CHANGED]
    assert total == 2
    assert {(c.message_id, c.details["suppress_sending"]) for c in changes} == {
        (message.id, "true"),
        (None, "false"),
    }
    assert sorted((d.message_id or "", d.record_type) for d in due) == [
        ("", "SubscriptionChange"),
        (message.id, "SubscriptionChange"),
    ]
