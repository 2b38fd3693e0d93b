"""A pool's given codes in the database (SQLite and PostgreSQL): the page the UI lists, the
latest first, with the message and the redemption of each, and nothing of another pool."""

from __future__ import annotations

from datetime import timedelta

from builders import T0, make_tenant
from misiva.authoring.promo_pools import create_pool
from misiva.storage import Database
from misiva.storage import promo as promo_store


async def test_allocations_are_listed_latest_first_a_page_at_a_time(db: Database) -> None:
    tenant = await make_tenant(db)
    pool = (await create_pool(db, tenant.server.id, "WELCOME10")).pool
    other = (await create_pool(db, tenant.server.id, "SUMMER")).pool
    async with db.transaction() as tx:
        await promo_store.add_codes(tx, pool, [f"W-{n}" for n in range(6)])
        await promo_store.add_codes(tx, other, ["S-1"])
        for n in range(4):
            at = T0 + timedelta(minutes=n)
            await promo_store.allocate(tx, pool, f"Client{n}@Example.com", f"m-{n}", at)
        await promo_store.allocate(tx, other, "client0@example.com", "m-other", T0)
        await promo_store.redeem(tx, tenant.server.id, "W-1", T0 + timedelta(hours=1))
    async with db.reading() as tx:
        first = await promo_store.list_allocations(tx, pool.id, limit=3, offset=0)
        second = await promo_store.list_allocations(tx, pool.id, limit=3, offset=3)
        none = await promo_store.list_allocations(tx, pool.id, limit=3, offset=6)
    assert [a.recipient for a in first] == [f"client{n}@example.com" for n in (3, 2, 1)]
    assert [(a.code, a.message_id) for a in second] == [("W-0", "m-0")]
    assert none == []
    redeemed = first[2]
    assert (redeemed.code, redeemed.allocated_at) == ("W-1", T0 + timedelta(minutes=1))
    assert redeemed.redeemed_at == T0 + timedelta(hours=1)
    assert first[0].redeemed_at is None
