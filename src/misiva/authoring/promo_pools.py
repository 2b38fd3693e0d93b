"""Promo code pools as the API and the CLI manage them: create, fill (CSV, a list, or a
pattern), see stock, redeem. Allocation happens on send (misiva.ingest.promo)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from misiva.domain.clock import utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.promo import (
    Exhaustion,
    ParsedCodes,
    PromoPool,
    Stock,
    check_pool_key,
    generate_codes,
)
from misiva.storage import Database, Tx
from misiva.storage import promo as promo_store
from misiva.storage.promo import Allocation, Redemption


@dataclass(frozen=True, slots=True)
class PoolView:
    pool: PromoPool
    stock: Stock

    @property
    def low_stock(self) -> bool:
        return self.stock.available <= self.pool.low_stock_threshold


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    duplicates: list[str]  # codes the server already held, in this pool or another
    errors: list[tuple[int, str]]  # lines refused, with why
    view: PoolView


async def create_pool(
    db: Database,
    server_id: int,
    key: str,
    *,
    description: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    exhaustion: Exhaustion = Exhaustion.REFUSE,
    fallback_text: str = "",
    low_stock_threshold: int = 0,
) -> PoolView:
    check_pool_key(key)
    if exhaustion is Exhaustion.FALLBACK and not fallback_text.strip():
        raise InvalidRequest("A pool whose exhaustion is 'fallback' needs a FallbackText.")
    async with db.transaction() as tx:
        pool = await promo_store.create_pool(
            tx,
            server_id,
            key,
            description=description,
            starts_at=starts_at,
            ends_at=ends_at,
            exhaustion=exhaustion,
            fallback_text=fallback_text,
            low_stock_threshold=low_stock_threshold,
            now=utcnow(),
        )
        return PoolView(pool, await promo_store.stock(tx, pool.id))


async def pool_view(db: Database, server_id: int, key: str) -> PoolView:
    async with db.reading() as tx:
        pool = await _pool(tx, server_id, key)
        return PoolView(pool, await promo_store.stock(tx, pool.id))


async def allocations(
    db: Database, server_id: int, key: str, *, limit: int, offset: int
) -> tuple[PoolView, list[Allocation]]:
    """The pool and a page of the codes it has given, the latest first."""
    async with db.reading() as tx:
        pool = await _pool(tx, server_id, key)
        given = await promo_store.list_allocations(tx, pool.id, limit=limit, offset=offset)
        return PoolView(pool, await promo_store.stock(tx, pool.id)), given


async def list_pools(db: Database, server_id: int) -> list[PoolView]:
    async with db.reading() as tx:
        pools = await promo_store.list_pools(tx, server_id)
        return [PoolView(p, await promo_store.stock(tx, p.id)) for p in pools]


async def import_codes(db: Database, server_id: int, key: str, parsed: ParsedCodes) -> ImportResult:
    async with db.transaction() as tx:
        pool = await _pool(tx, server_id, key)
        duplicates = await promo_store.add_codes(tx, pool, parsed.codes)
        return await _imported(tx, pool, parsed, duplicates)


async def generate(
    db: Database, server_id: int, key: str, pattern: str, count: int
) -> ImportResult:
    async with db.transaction() as tx:
        pool = await _pool(tx, server_id, key)
        codes = generate_codes(pattern, count, await promo_store.existing_codes(tx, server_id))
        duplicates = await promo_store.add_codes(tx, pool, codes)
        return await _imported(tx, pool, ParsedCodes(codes, []), duplicates)


async def redeem(db: Database, server_id: int, code: str) -> Redemption:
    async with db.transaction() as tx:
        return await promo_store.redeem(tx, server_id, code, utcnow())


async def _imported(
    tx: Tx, pool: PromoPool, parsed: ParsedCodes, duplicates: list[str]
) -> ImportResult:
    added = len(parsed.codes) - len(duplicates)
    stock = await promo_store.stock(tx, pool.id)
    if added and stock.available > pool.low_stock_threshold:
        # Restocked above the threshold: the next fall to it raises the alert again.
        await promo_store.clear_low_stock(tx, pool.id)
        pool = replace(pool, low_stock_alerted_at=None)
    return ImportResult(added, duplicates, parsed.errors, PoolView(pool, stock))


async def _pool(tx: Tx, server_id: int, key: str) -> PromoPool:
    pool = await promo_store.get_pool(tx, server_id, key)
    if pool is None:
        raise NotFound(f"The promo pool '{key}' was not found.", ErrorCode.PROMO_POOL_NOT_FOUND)
    return pool
