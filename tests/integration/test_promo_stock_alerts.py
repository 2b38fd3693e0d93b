"""A promo pool's low stock in the alerts system (SQLite and PostgreSQL), on real sends through
the API: at or under its LowStockThreshold a warning alert opens (event, Alert webhook, one
email), at none left under `refuse` it turns danger without a second email, and it resolves
at once when the pool is restocked; the pool's own flag keeps working beside it."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from builders import Tenant
from misiva.accounts.users import create_user
from misiva.domain.alerts import AlertLevel, AlertMetric, AlertScope
from misiva.domain.enums import EventType
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform
from misiva.scheduler.alert_mail import AlertMail
from misiva.scheduler.alerts import AlertEvaluator
from misiva.storage import alerts as alert_store
from misiva.storage import capture as capture_store
from misiva.storage import events as event_log
from misiva.storage.tables import message_events, webhook_deliveries
from misiva.storage.tables_promo import promo_pools
from misiva.webhooks.assemble import webhook_event
from misiva.webhooks.payloads import build_payload

WELCOME = {
    "Name": "Welcome",
    "Alias": "welcome",
    "Subject": "Welcome",
    "HtmlBody": "<p>Thanks for your order.</p><p>Your code: {{ promo_code('WELCOME10') }}</p>",
    "TextBody": "Thanks. Code: {{ promo_code('WELCOME10') }}",
}


async def _send(api: httpx.AsyncClient, to: str) -> httpx.Response:
    return await api.post(
        "/email/withTemplate", json={"From": "hola@shop.test", "To": to, "TemplateAlias": "welcome"}
    )


async def _pool(api: httpx.AsyncClient, codes: list[str], **fields: Any) -> dict[str, Any]:
    made = await api.post("/promo-pools", json={"Key": "WELCOME10", **fields})
    assert made.status_code == 200, made.text
    added = await api.post("/promo-pools/WELCOME10/codes", json=codes)
    assert added.status_code == 200, added.text
    return dict(added.json()["Pool"])


async def _alert_hooks(platform: Platform) -> list[dict[str, Any]]:
    """The Alert webhooks queued so far, as their payloads, oldest first."""
    async with platform.db.reading() as tx:
        ids = (
            await tx.execute(
                sa.select(webhook_deliveries.c.event_id)
                .where(webhook_deliveries.c.record_type == "Alert")
                .order_by(webhook_deliveries.c.id)
            )
        ).scalars()
        events = [await event_log.get_event(tx, event_id) for event_id in ids]
    return [build_payload(webhook_event("Alert", e, None)) for e in events if e is not None]


async def test_low_stock_opens_an_alert_turns_danger_and_resolves_when_restocked(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    await create_user(platform.db, "owner@shop.test", "correct horse battery", Role.OWNER)
    hook = {"Url": "http://127.0.0.1:9/hook", "Triggers": {"Alert": {"Enabled": True}}}
    assert (await api.post("/webhooks", json=hook)).status_code == 200
    assert (await api.post("/templates", json=WELCOME)).status_code == 200
    await _pool(api, ["W-1", "W-2", "W-3"], LowStockThreshold=1)
    mail = AlertMail(platform.db, sender=None, from_address=None, ui_base="http://ui.test")
    evaluator = AlertEvaluator(platform.db, mail)
    assert (await evaluator.run_once()).opened == []

    for to in ("ana@example.com", "bob@example.com"):
        assert (await _send(api, to)).status_code == 200
    opened = (await evaluator.run_once()).opened
    assert [(a.metric, a.scope, a.subject, a.level) for a in opened] == [
        (AlertMetric.PROMO_STOCK, AlertScope.POOL, "WELCOME10", AlertLevel.WARNING)
    ]
    assert (opened[0].value, opened[0].threshold, opened[0].window) == (1.0, 1.0, "1h")
    summary = "warning: promo pool WELCOME10 is low on stock: 1 code(s) left (threshold 1)"
    assert opened[0].describe() == summary
    # The pool's own flag is raised too, as before.
    pool = (await api.get("/promo-pools/WELCOME10")).json()
    assert pool["LowStock"] is True and pool["LowStockAlertedAt"] is not None
    [payload] = await _alert_hooks(platform)
    assert payload["State"] == "open" and payload["Metric"] == "promo_codes_available"
    assert payload["Scope"] == "pool" and payload["Subject"] == "WELCOME10"
    assert payload["Value"] == 1.0 and payload["Summary"] == summary
    async with platform.db.reading() as tx:
        total, captured = await capture_store.list_captured(tx, server_id=tenant.server.id)
    assert total == 1 and captured[0].recipients == ["owner@shop.test"]
    assert summary.encode() in captured[0].mime

    # The last code goes: danger (sends are refused now), and no second email.
    assert (await _send(api, "eve@example.com")).status_code == 200
    assert (await _send(api, "zoe@example.com")).status_code == 422
    again = await evaluator.run_once()
    assert again.opened == [] and again.resolved == []
    async with platform.db.reading() as tx:
        [still] = await alert_store.open_alerts(tx, tenant.server.id)
        assert (await capture_store.list_captured(tx, server_id=tenant.server.id))[0] == 1
    assert (still.level, still.value, still.threshold) == (AlertLevel.DANGER, 0.0, 0.0)
    assert still.describe() == (
        "danger: promo pool WELCOME10 has no codes left: sends that need one are refused "
        "(threshold 1)"
    )

    # Restocked: the alert resolves at the next evaluation, and the flag clears.
    restocked = await api.post("/promo-pools/WELCOME10/codes", json=["W-4", "W-5", "W-6"])
    assert restocked.json()["Pool"]["LowStockAlertedAt"] is None
    resolved = (await evaluator.run_once()).resolved
    assert [(a.metric, a.subject) for a in resolved] == [(AlertMetric.PROMO_STOCK, "WELCOME10")]
    assert [p["State"] for p in await _alert_hooks(platform)] == ["open", "resolved"]
    async with platform.db.reading() as tx:
        assert await alert_store.open_alerts(tx, tenant.server.id) == []
        types = (
            await tx.execute(
                sa.select(message_events.c.recipient).where(
                    message_events.c.type == EventType.ALERT.value
                )
            )
        ).scalars()
        assert list(types) == ["WELCOME10", "WELCOME10"]


async def test_threshold_zero_fallback_pools_warn_only_when_empty_and_ended_pools_resolve(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    assert (await api.post("/templates", json=WELCOME)).status_code == 200
    await _pool(api, ["W-1"], Exhaustion="fallback", FallbackText="ASK-IN-STORE")
    evaluator = AlertEvaluator(platform.db)
    # Threshold 0 and a code left: nothing.
    assert (await evaluator.run_once()).opened == []
    assert (await _send(api, "ana@example.com")).status_code == 200
    [opened] = (await evaluator.run_once()).opened
    # Empty, but sends get the fallback text: a warning, not danger.
    assert opened.level is AlertLevel.WARNING and opened.value == 0.0
    assert "has no codes left: sends get its fallback text (threshold 0)" in opened.describe()
    # The offer ends: an ended pool is not watched, and its alert resolves.
    async with platform.db.transaction() as tx:
        await tx.execute(sa.update(promo_pools).values(ends_at=opened.opened_at))
    assert [a.subject for a in (await evaluator.run_once()).resolved] == ["WELCOME10"]


async def test_a_pools_levels_are_not_a_server_threshold(api: httpx.AsyncClient) -> None:
    levels = (await api.get("/alerts/thresholds")).json()["Thresholds"]
    assert "promo_codes_available" not in {t["Metric"] for t in levels}
    refused = await api.put(
        "/alerts/thresholds/promo_codes_available", json={"Warning": 5, "Danger": 0}
    )
    assert refused.status_code == 422
    assert refused.json()["Message"] == (
        "The levels of promo_codes_available are each promo pool's own LowStockThreshold."
    )
