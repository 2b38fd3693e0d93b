"""Contacts on SQLite and PostgreSQL: counted, and read in pages in the order they were added
(keyset paging by id), one server's only."""

from __future__ import annotations

from datetime import timedelta

from builders import T0, make_tenant
from misiva.domain.contacts import Contact
from misiva.storage import Database
from misiva.storage import contacts as contact_store


async def test_contacts_are_counted_and_paged_by_id(db: Database) -> None:
    shop = await make_tenant(db)
    other = await make_tenant(db, "other", "other.test")
    async with db.transaction() as tx:
        for n in range(5):
            # One at a time, so that the ids follow the order of the names.
            person = Contact(shop.server.id, f"P{n}@Example.com", attributes={"n": n})
            await contact_store.upsert_contacts(tx, [person], T0 + timedelta(minutes=n))
        await contact_store.upsert_contacts(tx, [Contact(other.server.id, "x@example.com")], T0)
        # A changed profile keeps its place.
        changed = Contact(shop.server.id, "p0@example.com", first_name="Ana")
        await contact_store.upsert_contacts(tx, [changed], T0 + timedelta(hours=1))
    async with db.reading() as tx:
        assert await contact_store.count_contacts(tx, shop.server.id) == 5
        assert await contact_store.count_contacts(tx, other.server.id) == 1
        first = await contact_store.contacts_by_id(tx, shop.server.id, limit=2)
        second = await contact_store.contacts_by_id(
            tx, shop.server.id, limit=2, after_id=first[-1][0]
        )
        last = await contact_store.contacts_by_id(
            tx, shop.server.id, limit=2, after_id=second[-1][0]
        )
        beyond = await contact_store.contacts_by_id(
            tx, shop.server.id, limit=2, after_id=last[-1][0]
        )
    emails = [c.email for _, c in (*first, *second, *last)]
    assert emails == [f"p{n}@example.com" for n in range(5)]
    assert first[0][1].first_name == "Ana" and second[0][1].attributes == {"n": 2}
    assert len(last) == 1 and beyond == []
