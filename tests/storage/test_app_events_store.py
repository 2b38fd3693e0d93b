"""App events on SQLite and PostgreSQL: stored once per event id (a repeat gets the stored
event back), read by id and event id, listed with filters and paging, a contact's history
newest first, and the rules' outcomes recorded and read back."""

from __future__ import annotations

from datetime import timedelta

from builders import T0, make_tenant
from misiva.domain.automation import AppEvent, Outcome, RuleOutcome
from misiva.storage import Database
from misiva.storage import app_events as event_store


async def _store(
    db: Database, server_id: int, event_id: str, name: str, email: str, hours: int
) -> tuple[AppEvent, bool]:
    async with db.transaction() as tx:
        return await event_store.insert_event(
            tx,
            server_id=server_id,
            event_id=event_id,
            name=name,
            email=email,
            data={"order": {"number": event_id}},
            occurred_at=T0 + timedelta(hours=hours),
            now=T0 + timedelta(hours=hours, minutes=1),
        )


async def test_an_event_id_is_stored_once_and_outcomes_are_kept(db: Database) -> None:
    tenant = await make_tenant(db)
    server = tenant.server.id
    first, new = await _store(db, server, "e-1", "order.placed", "Ana@Example.com", 0)
    assert new and first.email == "ana@example.com" and first.outcomes == ()
    again, new_again = await _store(db, server, "e-1", "order.cancelled", "bob@example.com", 5)
    assert not new_again and again.id == first.id and again.name == "order.placed"
    outcome = RuleOutcome(
        7, "receipt", 2, Outcome.SCHEDULED, "", scheduled_id="m-1", send_at=T0 + timedelta(days=3)
    )
    skipped = RuleOutcome(8, "upsell", 1, Outcome.NOT_MATCHED, "the condition does not hold")
    async with db.transaction() as tx:
        await event_store.set_outcome(tx, first.id, [outcome, skipped])
    async with db.reading() as tx:
        stored = await event_store.get_event(tx, server, "e-1")
        by_id = await event_store.get_event_by_id(tx, server, first.id)
        assert await event_store.get_event(tx, server, "e-2") is None
    assert stored is not None and stored.outcomes == (outcome, skipped)
    assert by_id == stored and stored.data == {"order": {"number": "e-1"}}
    # Another server may use the same event id: ids are per server.
    other = await make_tenant(db, "other", "other.test")
    _, new_elsewhere = await _store(db, other.server.id, "e-1", "order.placed", "x@y.test", 0)
    assert new_elsewhere
    async with db.reading() as tx:
        assert await event_store.get_event_by_id(tx, other.server.id, first.id) is None


async def test_events_are_listed_filtered_and_paged_newest_first(db: Database) -> None:
    tenant = await make_tenant(db)
    server = tenant.server.id
    await _store(db, server, "a", "order.placed", "ana@example.com", 0)
    await _store(db, server, "b", "order.cancelled", "ana@example.com", 1)
    await _store(db, server, "c", "order.placed", "bob@example.com", 2)
    await _store(db, server, "d", "order.placed", "ana@example.com", 3)
    other = await make_tenant(db, "other", "other.test")
    await _store(db, other.server.id, "z", "order.placed", "ana@example.com", 4)
    async with db.reading() as tx:
        total, page = await event_store.list_events(tx, server, limit=2)
        assert total == 4 and [e.event_id for e in page] == ["d", "c"]
        _, rest = await event_store.list_events(tx, server, limit=2, offset=2)
        assert [e.event_id for e in rest] == ["b", "a"]
        total, placed = await event_store.list_events(tx, server, names=("order.placed",))
        assert total == 3 and [e.event_id for e in placed] == ["d", "c", "a"]
        _, window = await event_store.list_events(
            tx, server, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)
        )
        assert [e.event_id for e in window] == ["c", "b"]
        total, ana = await event_store.contact_history(tx, server, "ANA@example.com")
        assert total == 3 and [e.event_id for e in ana] == ["d", "b", "a"]
        _, ana_placed = await event_store.list_events(
            tx, server, names=("order.placed",), email="ana@example.com", limit=1
        )
        assert [e.event_id for e in ana_placed] == ["d"]
