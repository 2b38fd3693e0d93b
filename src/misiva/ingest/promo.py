"""Promo codes for a templated send: each pool its template (or a content block chosen for the
recipient) names gives the recipient their code before rendering, in a write transaction of
its own, so `promo_code()` at render is a lookup. An exhausted (or not yet, or no longer,
valid) pool does what it says: refuse the send, render its fallback text, or render nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from misiva.domain.clock import utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.promo import Exhaustion, PromoPool
from misiva.storage import Database, Tx
from misiva.storage import promo as promo_store

log = logging.getLogger(__name__)


class PromoAllocator:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def codes(
        self, server_id: int, keys: Iterable[str], recipient: str | None, message_id: str
    ) -> dict[str, str]:
        """Pool key -> what `promo_code(key)` renders for this recipient. Committed before
        the message is queued: a send refused later keeps its code for the next try, which
        is the same code (allocation is keyed by pool and recipient)."""
        keys = sorted(keys)
        if not recipient:
            raise InvalidRequest("A template with promo_code() needs a To recipient.")
        async with self._db.transaction() as tx:
            pools = await promo_store.get_pools(tx, server_id, keys)
            out = {}
            for key in keys:
                pool = pools.get(key)
                if pool is None:
                    raise NotFound(
                        f"The template (or a content block it places) names the promo pool "
                        f"'{key}', which does not exist.",
                        ErrorCode.PROMO_POOL_NOT_FOUND,
                    )
                out[key] = await self._one(tx, pool, recipient, message_id)
        return out

    async def _one(self, tx: Tx, pool: PromoPool, recipient: str, message_id: str) -> str:
        now = utcnow()
        if not pool.active_at(now):
            # Someone given a code while the offer ran keeps it: a re-send shows the same.
            given = await promo_store.allocated_code(tx, pool.id, recipient.lower())
            return given if given is not None else _exhausted(pool, active=False)
        code, taken = await promo_store.allocate(tx, pool, recipient, message_id, now)
        if code is not None and not taken:
            return code  # a re-send: the stock did not move
        left = await promo_store.available_up_to(tx, pool.id, pool.low_stock_threshold + 1)
        if left <= pool.low_stock_threshold and await promo_store.mark_low_stock(tx, pool.id, now):
            log.warning(
                "promo pool %s of server %s is low on stock: %d codes left (threshold %d)",
                pool.key,
                pool.server_id,
                left,
                pool.low_stock_threshold,
            )
        return code if code is not None else _exhausted(pool, active=True)


def _exhausted(pool: PromoPool, *, active: bool) -> str:
    if pool.exhaustion is Exhaustion.FALLBACK:
        return pool.fallback_text
    if pool.exhaustion is Exhaustion.OMIT:
        return ""
    if not active:
        raise MisivaError(
            f"The promo pool '{pool.key}' is not valid at this time.",
            ErrorCode.PROMO_POOL_NOT_ACTIVE,
        )
    raise MisivaError(
        f"The promo pool '{pool.key}' has no codes left.", ErrorCode.PROMO_POOL_EXHAUSTED
    )
