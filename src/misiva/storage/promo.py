"""Promo code pools and their codes: create and list pools, add codes, allocate one to a
recipient (atomic, idempotent), count stock, redeem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.promo import Exhaustion, PromoPool, Stock
from misiva.storage.engine import Tx
from misiva.storage.tables_promo import promo_codes, promo_pools

_p = promo_pools
_c = promo_codes
# Rows per INSERT when adding codes: well under SQLite's 32,766 bound parameters.
_CHUNK = 2_000


def _pool(row: Any) -> PromoPool:
    return PromoPool(
        id=row.id,
        server_id=row.server_id,
        key=row.key,
        description=row.description,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        exhaustion=Exhaustion(row.exhaustion),
        fallback_text=row.fallback_text,
        low_stock_threshold=row.low_stock_threshold,
        low_stock_alerted_at=row.low_stock_alerted_at,
        created_at=row.created_at,
    )


async def create_pool(
    tx: Tx,
    server_id: int,
    key: str,
    *,
    description: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    exhaustion: Exhaustion,
    fallback_text: str,
    low_stock_threshold: int,
    now: datetime,
) -> PromoPool:
    if await get_pool(tx, server_id, key) is not None:
        raise Conflict(f"A promo pool named '{key}' already exists.")
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidRequest("A pool's end must come after its start.")
    if low_stock_threshold < 0:
        raise InvalidRequest("LowStockThreshold cannot be negative.")
    values = {
        "server_id": server_id,
        "key": key,
        "description": description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "exhaustion": exhaustion.value,
        "fallback_text": fallback_text,
        "low_stock_threshold": low_stock_threshold,
        "low_stock_alerted_at": None,
        "created_at": now,
    }
    pool_id = (await tx.execute(sa.insert(_p).values(**values).returning(_p.c.id))).scalar_one()
    return PromoPool(id=pool_id, **{**values, "exhaustion": exhaustion})  # type: ignore[arg-type]


async def get_pool(tx: Tx, server_id: int, key: str) -> PromoPool | None:
    query = sa.select(_p).where(_p.c.server_id == server_id, _p.c.key == key)
    row = (await tx.execute(query)).first()
    return _pool(row) if row else None


async def get_pools(tx: Tx, server_id: int, keys: Sequence[str]) -> dict[str, PromoPool]:
    query = sa.select(_p).where(_p.c.server_id == server_id, _p.c.key.in_(list(keys)))
    return {row.key: _pool(row) for row in await tx.execute(query)}


async def list_pools(tx: Tx, server_id: int) -> list[PromoPool]:
    query = sa.select(_p).where(_p.c.server_id == server_id).order_by(_p.c.key)
    return [_pool(row) for row in await tx.execute(query)]


async def add_codes(tx: Tx, pool: PromoPool, codes: Sequence[str]) -> list[str]:
    """Adds the codes the server does not hold yet (in this pool or another); returns those
    it skipped as duplicates."""
    insert = pg_insert(_c) if tx.dialect.name == "postgresql" else sqlite_insert(_c)
    statement = insert.on_conflict_do_nothing(index_elements=["server_id", "code"]).returning(
        _c.c.code
    )
    added: set[str] = set()
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        rows = [{"server_id": pool.server_id, "pool_id": pool.id, "code": c} for c in chunk]
        added.update((await tx.execute(statement, rows)).scalars())
    return [c for c in codes if c not in added]


async def existing_codes(tx: Tx, server_id: int) -> set[str]:
    """Every code the server holds: what a generated batch must not repeat."""
    query = sa.select(_c.c.code).where(_c.c.server_id == server_id)
    return set((await tx.execute(query)).scalars())


async def allocated_code(tx: Tx, pool_id: int, recipient: str) -> str | None:
    query = sa.select(_c.c.code).where(_c.c.pool_id == pool_id, _c.c.recipient == recipient)
    return (await tx.execute(query)).scalar_one_or_none()


async def allocate(
    tx: Tx, pool: PromoPool, recipient: str, message_id: str, now: datetime
) -> tuple[str | None, bool]:
    """The recipient's code from the pool: the one they were given before, else a free one
    now theirs (and True: the stock changed); None when none is left.

    On PostgreSQL, concurrent senders skip each other's locked rows (`FOR UPDATE SKIP
    LOCKED`), so none waits for another and no code is taken twice; on SQLite, writers are
    serialized and the clause is left out. Two sends to the same person at once both try:
    the unique (pool, recipient) refuses the second, which then reads the first's code."""
    recipient = recipient.lower()
    found = await allocated_code(tx, pool.id, recipient)
    if found is not None:
        return found, False
    free = (
        sa.select(_c.c.id)
        .where(_c.c.pool_id == pool.id, _c.c.recipient.is_(None))
        .order_by(_c.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        sa.update(_c)
        .where(_c.c.id == free)
        .values(recipient=recipient, message_id=message_id, allocated_at=now)
        .returning(_c.c.code)
    )
    try:
        async with tx.begin_nested():
            code = (await tx.execute(statement)).scalar_one_or_none()
        return (None if code is None else str(code)), code is not None
    except IntegrityError:
        return await allocated_code(tx, pool.id, recipient), False


async def available_up_to(tx: Tx, pool_id: int, limit: int) -> int:
    """The codes left, counted up to `limit` only: enough to compare with a low-stock
    threshold on every send without counting a pool of a million codes each time."""
    free = (
        sa.select(_c.c.id)
        .where(_c.c.pool_id == pool_id, _c.c.recipient.is_(None))
        .limit(limit)
        .subquery()
    )
    return int((await tx.execute(sa.select(sa.func.count()).select_from(free))).scalar_one())


async def stock_levels(tx: Tx, server_id: int, now: datetime) -> list[tuple[PromoPool, int]]:
    """Each pool of the server that has not ended, with its codes left counted up to its
    low-stock threshold + 1 (what the alert compares; a bounded count however big the
    pool). An ended pool hands out no more codes, so its stock alarms no one."""
    query = (
        sa.select(_p)
        .where(_p.c.server_id == server_id, sa.or_(_p.c.ends_at.is_(None), _p.c.ends_at > now))
        .order_by(_p.c.key)
    )
    pools = [_pool(row) for row in await tx.execute(query)]
    return [
        (pool, await available_up_to(tx, pool.id, pool.low_stock_threshold + 1)) for pool in pools
    ]


async def mark_low_stock(tx: Tx, pool_id: int, now: datetime) -> bool:
    """Flags the pool as low on stock; True only for the send that flagged it first."""
    statement = (
        sa.update(_p)
        .where(_p.c.id == pool_id, _p.c.low_stock_alerted_at.is_(None))
        .values(low_stock_alerted_at=now)
    )
    return bool((await tx.execute(statement)).rowcount)


async def clear_low_stock(tx: Tx, pool_id: int) -> None:
    """New codes lift the flag, so the next fall to the threshold alerts again."""
    await tx.execute(sa.update(_p).where(_p.c.id == pool_id).values(low_stock_alerted_at=None))


async def stock(tx: Tx, pool_id: int) -> Stock:
    query = sa.select(
        sa.func.count(), sa.func.count(_c.c.recipient), sa.func.count(_c.c.redeemed_at)
    ).where(_c.c.pool_id == pool_id)
    total, allocated, redeemed = (await tx.execute(query)).one()
    return Stock(total=int(total), allocated=int(allocated), redeemed=int(redeemed))


@dataclass(frozen=True, slots=True)
class Allocation:
    """A code given to a recipient: by which message, when, and when it was redeemed."""

    code: str
    recipient: str
    message_id: str | None
    allocated_at: datetime
    redeemed_at: datetime | None


async def list_allocations(tx: Tx, pool_id: int, *, limit: int, offset: int) -> list[Allocation]:
    """A page of the pool's allocated codes, the latest first (the count is its stock's)."""
    query = (
        sa.select(_c.c.code, _c.c.recipient, _c.c.message_id, _c.c.allocated_at, _c.c.redeemed_at)
        .where(_c.c.pool_id == pool_id, _c.c.recipient.is_not(None))
        .order_by(_c.c.allocated_at.desc(), _c.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [Allocation(*row) for row in await tx.execute(query)]


@dataclass(frozen=True, slots=True)
class Redemption:
    code: str
    pool_key: str
    recipient: str
    message_id: str | None
    redeemed_at: datetime


async def redeem(tx: Tx, server_id: int, code: str, now: datetime) -> Redemption:
    """Marks an allocated code redeemed, once: a second redemption is refused."""
    statement = (
        sa.update(_c)
        .where(
            _c.c.server_id == server_id,
            _c.c.code == code,
            _c.c.recipient.is_not(None),
            _c.c.redeemed_at.is_(None),
        )
        .values(redeemed_at=now)
        .returning(_c.c.pool_id)
    )
    if (await tx.execute(statement)).first() is None:
        await _refuse_redemption(tx, server_id, code)
    query = (
        sa.select(_c, _p.c.key)
        .join(_p, _p.c.id == _c.c.pool_id)
        .where(_c.c.server_id == server_id, _c.c.code == code)
    )
    row = (await tx.execute(query)).one()
    return Redemption(code, row.key, row.recipient, row.message_id, row.redeemed_at)


async def _refuse_redemption(tx: Tx, server_id: int, code: str) -> None:
    query = sa.select(_c.c.recipient, _c.c.redeemed_at).where(
        _c.c.server_id == server_id, _c.c.code == code
    )
    row = (await tx.execute(query)).first()
    if row is None:
        raise NotFound(f"The promo code '{code}' was not found.", ErrorCode.PROMO_CODE_NOT_FOUND)
    if row.redeemed_at is not None:
        raise Conflict(
            f"The promo code '{code}' was already redeemed at {row.redeemed_at.isoformat()}.",
            ErrorCode.PROMO_CODE_ALREADY_REDEEMED,
        )
    raise InvalidRequest(
        f"The promo code '{code}' was never given to a recipient.",
        ErrorCode.PROMO_CODE_NOT_ALLOCATED,
    )
