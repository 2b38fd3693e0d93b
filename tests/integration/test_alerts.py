"""Sending-health alerts on SQLite and PostgreSQL: a bounce storm opens alerts per server,
stream and provider over both windows, each recorded as an event with its webhook and mailed
once to the server's owners and developers; an open alert is not sent again; it resolves
only after its measure has stayed under warning for an hour; thresholds are per server."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from builders import T0, Tenant, make_tenant, new_message
from misiva.domain.alerts import AlertLevel, AlertMetric, AlertScope, AlertState, AlertThreshold
from misiva.domain.delivery import EventRecord
from misiva.domain.dns_checks import DomainCheck, RecordCheck, RecordKind, RecordStatus
from misiva.domain.enums import EventType
from misiva.domain.users import Role
from misiva.events.record import record_queued
from misiva.scheduler.alert_mail import AlertMail
from misiva.scheduler.alerts import AlertEvaluator
from misiva.storage import Database, rollups
from misiva.storage import alerts as alert_store
from misiva.storage import capture as capture_store
from misiva.storage import domains as domain_store
from misiva.storage import events as event_log
from misiva.storage import users as user_store
from misiva.storage import webhooks as webhook_store
from misiva.storage.tables import message_events, webhook_deliveries
from misiva.webhooks.assemble import webhook_event
from misiva.webhooks.payloads import build_payload

PASS = RecordStatus.PASS


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _storm(db: Database, tenant: Tenant, sent: int, bounced: int, at: datetime) -> None:
    """`sent` messages to Gmail at `at`, of which `bounced` bounce and the rest arrive."""
    batch = [new_message(tenant, (f"p{i}@gmail.com",), at) for i in range(sent)]
    events = [
        EventRecord(
            m.id,
            tenant.server.id,
            EventType.BOUNCED if i < bounced else EventType.DELIVERED,
            m.recipients[0],
            at + timedelta(seconds=2),
            {"bounce_type": "HardBounce"} if i < bounced else {},
        )
        for i, m in enumerate(batch)
    ]
    async with db.transaction() as tx:
        await record_queued(tx, batch)
        await event_log.insert_events(tx, events)
    for _ in range(20):
        async with db.transaction() as tx:
            if not (await rollups.fold(tx, now=at + timedelta(minutes=10))).events:
                break


async def _people(db: Database, tenant: Tenant, other_server: int) -> None:
    async with db.transaction() as tx:
        for email, role, servers, disabled in (
            ("owner@shop.test", Role.OWNER, frozenset(), False),
            ("dev@shop.test", Role.DEVELOPER, frozenset({tenant.server.id}), False),
            ("otherdev@shop.test", Role.DEVELOPER, frozenset({other_server}), False),
            ("marketer@shop.test", Role.MARKETER, frozenset({tenant.server.id}), False),
            ("gone@shop.test", Role.OWNER, frozenset(), True),
        ):
            user = await user_store.insert_user(
                tx,
                email=email,
                name=email,
                password_hash="x",
                role=role,
                locale="en",
                now=T0,
                server_ids=servers,
            )
            if disabled:
                await tx.execute(
                    sa.text("UPDATE users SET disabled = :yes WHERE id = :id"),
                    {"yes": True, "id": user.id},
                )
        await webhook_store.insert_webhook(
            tx,
            server_id=tenant.server.id,
            url="http://127.0.0.1:9/hook",
            stream="outbound",
            secret="whsec",
            http_auth=None,
            http_headers=[],
            triggers={"Alert": {"Enabled": True}},
            created_at=T0,
        )


async def test_a_bounce_storm_opens_alerts_once_and_they_resolve_after_a_quiet_hour(
    db: Database,
) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db, "other", "other.test")
    await _people(db, tenant, other.server.id)
    await _storm(db, tenant, sent=200, bounced=24, at=T0)
    clock = Clock(T0 + timedelta(minutes=15))
    mail = AlertMail(db, sender=None, from_address=None, ui_base="http://ui.test", clock=clock)
    evaluator = AlertEvaluator(db, mail, clock=clock)

    done = await evaluator.run_once()
    bounce = {
        (a.scope, a.subject, a.window): a.level
        for a in done.opened
        if a.metric is AlertMetric.BOUNCE_RATE
    }
    # 12% of 200: past the 10% danger line, for the server, its stream and Gmail's family.
    assert bounce == {
        (scope, subject, window): AlertLevel.DANGER
        for scope, subject in (
            (AlertScope.SERVER, ""),
            (AlertScope.STREAM, "outbound"),
            (AlertScope.PROVIDER, "google"),
        )
        for window in ("1h", "24h")
    }
    assert all(a.server_id == tenant.server.id for a in done.opened)
    async with db.reading() as tx:
        opened_events = (
            await tx.execute(
                sa.select(message_events.c.id, message_events.c.details).where(
                    message_events.c.type == EventType.ALERT.value
                )
            )
        ).all()
        hooks = (
            await tx.execute(
                sa.select(webhook_deliveries.c.record_type, webhook_deliveries.c.event_id)
            )
        ).all()
        total, captured = await capture_store.list_captured(tx, server_id=tenant.server.id)
        stored = await event_log.get_event(tx, opened_events[0].id)
    assert len(opened_events) == len(done.opened) == 6
    assert sorted(h.event_id for h in hooks) == sorted(e.id for e in opened_events)
    assert {h.record_type for h in hooks} == {"Alert"}
    assert stored is not None
    payload = build_payload(webhook_event("Alert", stored, None))
    assert payload["RecordType"] == "Alert" and payload["State"] == "open"
    assert payload["Level"] == "danger" and payload["Value"] == 0.12
    # One email, to the owner and the server's developer only.
    assert total == 1
    assert captured[0].recipients == ["dev@shop.test", "owner@shop.test"]
    assert b"bounce rate 12.00% (threshold 10.00%)" in captured[0].mime

    # A minute later, still open: nothing new is sent.
    clock.now += timedelta(minutes=1)
    again = await evaluator.run_once()
    assert again.opened == [] and again.resolved == []
    async with db.reading() as tx:
        assert (await capture_store.list_captured(tx, server_id=tenant.server.id))[0] == 1

    # Two hours on, the last hour is quiet: the 1 h alerts start their quiet period ...
    clock.now = T0 + timedelta(hours=2, minutes=5)
    assert (await evaluator.run_once()).resolved == []
    # ... and resolve an hour later; the 24 h ones still see the storm and stay open.
    clock.now += timedelta(hours=1)
    later = await evaluator.run_once()
    assert {(a.metric, a.window) for a in later.resolved} == {(AlertMetric.BOUNCE_RATE, "1h")}
    assert len(later.resolved) == 3
    async with db.reading() as tx:
        still = await alert_store.open_alerts(tx, tenant.server.id)
        total_alerts, resolved = await alert_store.list_alerts(
            tx, tenant.server.id, state=AlertState.RESOLVED
        )
    assert {a.window for a in still} == {"24h"} and len(still) == 3
    assert total_alerts == 3 and all(a.resolved_at == clock.now for a in resolved)


async def test_per_server_thresholds_and_minimum_volume(db: Database) -> None:
    tenant = await make_tenant(db)
    # 6% of 50 bounce: under the default minimum volume of 100 sends, so no alert.
    await _storm(db, tenant, sent=50, bounced=3, at=T0)
    clock = Clock(T0 + timedelta(minutes=15))
    evaluator = AlertEvaluator(db, None, clock=clock)
    assert (await evaluator.run_once()).opened == []
    async with db.transaction() as tx:
        await alert_store.set_threshold(
            tx, tenant.server.id, AlertThreshold(AlertMetric.BOUNCE_RATE, 0.05, 0.5, 20), T0
        )
        levels = await alert_store.thresholds(tx, tenant.server.id)
    assert levels[AlertMetric.BOUNCE_RATE].min_volume == 20
    opened = (await evaluator.run_once()).opened
    assert {(a.scope, a.level) for a in opened if a.window == "1h"} == {
        (AlertScope.SERVER, AlertLevel.WARNING),
        (AlertScope.STREAM, AlertLevel.WARNING),
        (AlertScope.PROVIDER, AlertLevel.WARNING),
    }
    assert all(replace(a, id=0).threshold == 0.05 for a in opened)


async def test_a_throttling_provider_raises_deferral_and_delivery_time_alerts_of_its_own(
    db: Database,
) -> None:
    tenant = await make_tenant(db)
    await _storm(db, tenant, sent=200, bounced=0, at=T0)  # Gmail: fast and clean
    slow = [new_message(tenant, (f"p{i}@hotmail.es",), T0) for i in range(60)]
    events = []
    for m in slow:
        at = T0 + timedelta(seconds=30)
        events += [
            EventRecord(m.id, tenant.server.id, EventType.DEFERRED, m.recipients[0], at, {})
            for _ in range(2)
        ]
        events.append(
            EventRecord(
                m.id,
                tenant.server.id,
                EventType.DELIVERED,
                m.recipients[0],
                T0 + timedelta(minutes=40),
                {},
            )
        )
    async with db.transaction() as tx:
        await record_queued(tx, slow)
        await event_log.insert_events(tx, events)
    for _ in range(20):
        async with db.transaction() as tx:
            if not (await rollups.fold(tx, now=T0 + timedelta(hours=1))).events:
                break
    evaluator = AlertEvaluator(db, None, clock=Clock(T0 + timedelta(minutes=45)))
    opened = {
        (a.metric, a.scope, a.subject, a.level)
        for a in (await evaluator.run_once()).opened
        if a.window == "1h"
    }
    # Microsoft's family deferred two attempts in three and took 40 minutes: its own alerts.
    assert (
        AlertMetric.DEFERRAL_RATE,
        AlertScope.PROVIDER,
        "microsoft",
        AlertLevel.DANGER,
    ) in opened
    assert (AlertMetric.DELIVERY_P95, AlertScope.PROVIDER, "microsoft", AlertLevel.DANGER) in opened
    # Google's mail flowed: nothing about it. The server as a whole defers 120 of 380.
    assert not any(subject == "google" for _m, _s, subject, _l in opened)
    assert (AlertMetric.DEFERRAL_RATE, AlertScope.SERVER, "", AlertLevel.DANGER) in opened


async def test_a_broken_dns_record_opens_an_alert_until_the_domain_passes_again(
    db: Database,
) -> None:
    tenant = await make_tenant(db)
    clock = Clock(T0 + timedelta(minutes=5))
    evaluator = AlertEvaluator(db, None, clock=clock)

    def check(spf: RecordStatus) -> DomainCheck:
        return DomainCheck(
            clock.now,
            (
                RecordCheck(RecordKind.DKIM, "sel._domainkey.shop.test", "TXT", "p=", (), PASS),
                RecordCheck(RecordKind.SPF, "shop.test", "TXT", "v=spf1", (), spf),
            ),
        )

    # An unchecked domain says nothing; a passing one opens nothing.
    assert (await evaluator.run_once()).opened == []
    async with db.transaction() as tx:
        await domain_store.save_check(tx, tenant.domain.id, check(PASS))
    assert (await evaluator.run_once()).opened == []

    async with db.transaction() as tx:
        await domain_store.save_check(tx, tenant.domain.id, check(RecordStatus.FAIL))
    opened = (await evaluator.run_once()).opened
    assert [(a.metric, a.scope, a.subject, a.level) for a in opened] == [
        (AlertMetric.DNS_FAILING, AlertScope.DOMAIN, "shop.test", AlertLevel.DANGER)
    ]
    assert opened[0].describe() == (
        "danger: 1 record(s) failing on domain shop.test (spf shop.test)"
    )
    # Fixed: it resolves once the record has passed for the quiet hour.
    async with db.transaction() as tx:
        await domain_store.save_check(tx, tenant.domain.id, check(PASS))
    clock.now += timedelta(minutes=1)
    assert (await evaluator.run_once()).resolved == []
    clock.now += timedelta(hours=1, minutes=1)
    resolved = (await evaluator.run_once()).resolved
    assert [a.metric for a in resolved] == [AlertMetric.DNS_FAILING]
