"""Purge double opt-in requests nobody confirmed in time, with what was kept about them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import MisivaError
from misiva.storage import Database
from misiva.storage import subscriptions as subscription_store

log = logging.getLogger(__name__)


class ExpiredRequests:
    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utcnow,
        batch_size: int = 500,
        interval_seconds: float = 600,
    ) -> None:
        self._db = db
        self._clock = clock
        self._batch = batch_size
        self._interval = interval_seconds

    async def run_once(self, max_batches: int = 100) -> int:
        """One bounded pass; small batches keep each transaction short."""
        purged = 0
        for _ in range(max_batches):
            async with self._db.transaction() as tx:
                done = await subscription_store.purge_expired(tx, self._clock(), self._batch)
            purged += done
            if done < self._batch:
                break
        return purged

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                purged = await self.run_once()
                if purged:
                    log.info("subscriptions: %d unconfirmed requests purged", purged)
            except MisivaError as error:
                log.error("subscription purge paused: %s", error.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
