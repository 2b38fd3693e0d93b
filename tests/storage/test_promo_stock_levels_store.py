"""The promo stock the alerts read (storage.promo.stock_levels), on SQLite and PostgreSQL:
every pool that has not ended, with its codes left counted up to its threshold + 1."""

from __future__ import annotations

from datetime import timedelta

from builders import T0, make_tenant
from misiva.domain.promo import Exhaustion, PromoPool
from misiva.storage import Database, Tx
from misiva.storage import promo as promo_store


async def _pool(
    tx: Tx, server_id: int, key: str, threshold: int, codes: int, **dates: object
) -> PromoPool:
    pool = await promo_store.create_pool(
        tx,
        server_id,
        key,
        description="",
        starts_at=dates.get("starts_at"),  # type: ignore[arg-type]
        ends_at=dates.get("ends_at"),  # type: ignore[arg-type]
        exhaustion=Exhaustion.REFUSE,
        fallback_text="",
        low_stock_threshold=threshold,
        now=T0,
    )
    await promo_store.add_codes(tx, pool, [f"{key}-{n}" for n in range(codes)])
    return pool


async def test_stock_levels_count_running_pools_up_to_their_threshold(db: Database) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db, "other", "other.test")
    server_id = tenant.server.id
    async with db.transaction() as tx:
        big = await _pool(tx, server_id, "BIG", threshold=5, codes=40)
        low = await _pool(tx, server_id, "LOW", threshold=5, codes=4)
        await _pool(tx, server_id, "EMPTY", threshold=0, codes=0)
        await _pool(tx, server_id, "SOON", threshold=2, codes=1, starts_at=T0 + timedelta(days=3))
        await _pool(tx, server_id, "ENDED", threshold=2, codes=0, ends_at=T0)
        await _pool(tx, other.server.id, "THEIRS", threshold=2, codes=0)
        for n in range(3):
            await promo_store.allocate(tx, low, f"r{n}@example.com", f"m-{n}", T0)
        await promo_store.allocate(tx, big, "r@example.com", "m-big", T0)
    async with db.reading() as tx:
        levels = {p.key: left for p, left in await promo_store.stock_levels(tx, server_id, T0)}
        later = await promo_store.stock_levels(tx, server_id, T0 - timedelta(hours=1))
    # BIG has 39 left: counted only up to its threshold + 1, enough to say "not low".
    assert levels == {"BIG": 6, "EMPTY": 0, "LOW": 1, "SOON": 1}
    # Before its end, the ended pool is still watched.
    assert [p.key for p, _left in later] == ["BIG", "EMPTY", "ENDED", "LOW", "SOON"]
