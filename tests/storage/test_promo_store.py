"""Promo pools in the database (SQLite and PostgreSQL): codes added without duplicates,
allocation once per recipient, stock, low-stock flag, redemption."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import T0, make_tenant
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError
from misiva.domain.promo import Exhaustion, PromoPool
from misiva.storage import Database
from misiva.storage import promo as promo_store


async def _pool(db: Database, key: str = "WELCOME10", threshold: int = 1) -> PromoPool:
    tenant = await make_tenant(db)
    async with db.transaction() as tx:
        return await promo_store.create_pool(
            tx,
            tenant.server.id,
            key,
            description="Welcome offer",
            starts_at=None,
            ends_at=None,
            exhaustion=Exhaustion.REFUSE,
            fallback_text="",
            low_stock_threshold=threshold,
            now=T0,
        )


async def test_codes_are_added_once_per_server(db: Database) -> None:
    pool = await _pool(db)
    async with db.transaction() as tx:
        assert await promo_store.add_codes(tx, pool, ["A1", "A2", "A3"]) == []
        assert await promo_store.add_codes(tx, pool, ["A3", "A4"]) == ["A3"]
        stock = await promo_store.stock(tx, pool.id)
        assert (stock.total, stock.allocated, stock.redeemed, stock.available) == (4, 0, 0, 4)
        with pytest.raises(MisivaError, match="already exists"):
            await promo_store.create_pool(
                tx,
                pool.server_id,
                pool.key,
                description="",
                starts_at=None,
                ends_at=None,
                exhaustion=Exhaustion.OMIT,
                fallback_text="",
                low_stock_threshold=0,
                now=T0,
            )


async def test_a_recipient_gets_one_code_and_the_same_one_again(db: Database) -> None:
    pool = await _pool(db)
    async with db.transaction() as tx:
        await promo_store.add_codes(tx, pool, ["A1", "A2"])
        ana = await promo_store.allocate(tx, pool, "Ana@Example.com", "m1", T0)
        bob = await promo_store.allocate(tx, pool, "bob@example.com", "m2", T0)
        again = await promo_store.allocate(tx, pool, "ana@example.com", "m3", T0)
        none_left = await promo_store.allocate(tx, pool, "eve@example.com", "m4", T0)
        stock = await promo_store.stock(tx, pool.id)
    assert {ana, bob} == {("A1", True), ("A2", True)}
    assert again == (ana[0], False) and none_left == (None, False)
    assert (stock.allocated, stock.available) == (2, 0)


async def test_low_stock_is_flagged_once_until_codes_are_added(db: Database) -> None:
    pool = await _pool(db)
    async with db.transaction() as tx:
        assert await promo_store.mark_low_stock(tx, pool.id, T0)
        assert not await promo_store.mark_low_stock(tx, pool.id, T0)
        await promo_store.clear_low_stock(tx, pool.id)
        assert await promo_store.mark_low_stock(tx, pool.id, T0 + timedelta(hours=1))
        again = await promo_store.get_pool(tx, pool.server_id, pool.key)
    assert again is not None and again.low_stock_alerted_at == T0 + timedelta(hours=1)


async def test_redemption_once_and_clear_errors(db: Database) -> None:
    pool = await _pool(db)
    async with db.transaction() as tx:
        await promo_store.add_codes(tx, pool, ["A1", "A2"])
        code, _ = await promo_store.allocate(tx, pool, "ana@example.com", "m1", T0)
        assert code is not None
        redeemed = await promo_store.redeem(tx, pool.server_id, code, T0)
        assert (redeemed.pool_key, redeemed.recipient, redeemed.message_id) == (
            "WELCOME10",
            "ana@example.com",
            "m1",
        )
        assert (await promo_store.stock(tx, pool.id)).redeemed == 1
    for bad, error_code in (
        (code, ErrorCode.PROMO_CODE_ALREADY_REDEEMED),
        ("NOPE", ErrorCode.PROMO_CODE_NOT_FOUND),
        ({"A1", "A2"}.difference({code}).pop(), ErrorCode.PROMO_CODE_NOT_ALLOCATED),
    ):
        async with db.transaction() as tx:
            with pytest.raises(MisivaError) as raised:
                await promo_store.redeem(tx, pool.server_id, bad, T0)
        assert raised.value.error_code == error_code
