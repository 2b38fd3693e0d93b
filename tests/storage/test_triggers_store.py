"""Triggers on SQLite and PostgreSQL: created at version 1 with its version row, changed into
new versions (a stale change refused), paused and resumed, read by key and id, listed, found
by event name, their waiting messages found, and deleted with their versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

from builders import T0, make_tenant
from misiva.domain.automation import Cap, TriggerDefinition, Window
from misiva.domain.ids import new_message_id
from misiva.storage import Database
from misiva.storage import scheduled as scheduled_store
from misiva.storage import triggers as trigger_store

FOLLOW_UP = TriggerDefinition(
    event_name="order.placed",
    template="cross-sell",
    sender="Shop <hola@shop.test>",
    condition="order.total > 50",
    delay=timedelta(days=3),
    window=Window(time(9, 0), time(20, 0)),
    cap=Cap(2, timedelta(hours=24)),
    dedupe=timedelta(hours=12),
    cancel_on=("order.cancelled",),
    tag="cross-sell",
    description="Three days after an order",
)


def test_a_definition_round_trips_through_json() -> None:
    stored = trigger_store.definition_to_json(FOLLOW_UP)
    assert stored["delay_seconds"] == 3 * 86400 and stored["window"]["not_before"] == "09:00"
    assert trigger_store.definition_from_json(stored) == FOLLOW_UP
    bare = TriggerDefinition("order.placed", "receipt", "hola@shop.test")
    assert trigger_store.definition_from_json(trigger_store.definition_to_json(bare)) == bare


async def test_triggers_are_versioned_paused_listed_and_deleted(db: Database) -> None:
    tenant = await make_tenant(db)
    server = tenant.server.id
    receipt = TriggerDefinition("order.placed", "receipt", "hola@shop.test")
    async with db.transaction() as tx:
        made = await trigger_store.create_trigger(tx, server, "follow-up", FOLLOW_UP, T0)
        await trigger_store.create_trigger(tx, server, "receipt", receipt, T0, author="ana")
    assert made.version == 1 and made.definition == FOLLOW_UP and not made.paused
    later = T0 + timedelta(hours=1)
    changed_definition = replace(FOLLOW_UP, delay=timedelta(days=2), event_name="order.paid")
    async with db.transaction() as tx:
        changed = await trigger_store.update_trigger(tx, made, changed_definition, later)
        # A change made from the version read before is refused: it was changed meanwhile.
        assert await trigger_store.update_trigger(tx, made, FOLLOW_UP, later) is None
    assert changed is not None and changed.version == 2 and changed.updated_at == later
    async with db.transaction() as tx:
        paused = await trigger_store.set_paused(tx, server, made.id, True, later)
        assert paused is not None and paused.paused and paused.version == 2
        assert await trigger_store.set_paused(tx, server + 1, made.id, True, later) is None
    async with db.reading() as tx:
        assert [t.key for t in await trigger_store.list_triggers(tx, server)] == [
            "follow-up",
            "receipt",
        ]
        assert [t.key for t in await trigger_store.for_event(tx, server, "order.placed")] == [
            "receipt"
        ]
        assert await trigger_store.for_event(tx, server, "order.paid") == []
        running_or_not = await trigger_store.for_event(
            tx, server, "order.paid", include_paused=True
        )
        assert [t.key for t in running_or_not] == ["follow-up"]
        versions = await trigger_store.list_versions(tx, made.id)
        assert [(v.version, v.definition.event_name) for v in versions] == [
            (2, "order.paid"),
            (1, "order.placed"),
        ]
        first = await trigger_store.get_version(tx, made.id, 1)
        assert first is not None and first.definition == FOLLOW_UP
        assert await trigger_store.get_version(tx, made.id, 3) is None
        assert await trigger_store.event_names(tx, made.id) == ["order.paid", "order.placed"]
        by_key = await trigger_store.get_trigger(tx, server, "receipt")
        assert by_key is not None and by_key.definition == receipt
        assert await trigger_store.get_trigger_by_id(tx, server, made.id) == paused
        receipt_versions = await trigger_store.list_versions(tx, by_key.id)
        assert receipt_versions[0].author == "ana"
    other_tenant = await make_tenant(db, "other", "other.test")
    async with db.transaction() as tx:
        assert await trigger_store.get_trigger(tx, other_tenant.server.id, "receipt") is None
        assert not await trigger_store.delete_trigger(tx, other_tenant.server.id, made.id)
        assert await trigger_store.delete_trigger(tx, server, made.id)
        assert await trigger_store.list_versions(tx, made.id) == []
        assert await trigger_store.get_trigger(tx, server, "follow-up") is None
        # A deleted rule's id is never given again: what it left behind names it alone.
        receipt_id = by_key.id
        assert await trigger_store.delete_trigger(tx, server, receipt_id)
        again = await trigger_store.create_trigger(tx, server, "receipt", receipt, T0)
        assert again.id > max(made.id, receipt_id)


async def test_the_messages_waiting_from_a_trigger_are_found(db: Database) -> None:
    tenant = await make_tenant(db)
    server = tenant.server.id
    async with db.transaction() as tx:
        made = await trigger_store.create_trigger(tx, server, "follow-up", FOLLOW_UP, T0)
        ids = []
        for email in ("ana@example.com", "bob@example.com", "eve@example.com"):
            waiting = await scheduled_store.insert_scheduled(
                tx,
                message_id=new_message_id(),
                server_id=server,
                email=email,
                stream="outbound",
                send_at=T0 + timedelta(days=3),
                fields={},
                now=T0,
                trigger_id=made.id,
                trigger_version=1,
            )
            ids.append(waiting.id)
        await scheduled_store.cancel(tx, server, ids[:1], "by hand", T0)
        found = await trigger_store.waiting_from(tx, server, made.id)
        assert sorted(found) == sorted(ids[1:])
        assert await trigger_store.waiting_from(tx, server + 1, made.id) == []
