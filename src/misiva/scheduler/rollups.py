"""Fold new message events into the dashboard's rollups, every few seconds, in short batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import MisivaError
from misiva.storage import Database, rollups

log = logging.getLogger(__name__)
# Before it reads, a page or an API call folds what the scheduler has not yet: one small batch
# at most, so that a scheduler that is not running costs a reader a bounded wait, never a
# full catch-up.
CATCH_UP_BATCH = 5_000


class RollupFolder:
    """`run_once` catches up (bounded); `run` does so every `interval_seconds` until stopped.

    The dashboard calls `run_once` with a small bound before it reads, so that a page shows
    what happened a moment ago even between the scheduler's passes.
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utcnow,
        batch_size: int = 20_000,
        interval_seconds: float = 5,
    ) -> None:
        self._db = db
        self._clock = clock
        # A batch of events is a transaction: small enough that senders on SQLite (one
        # writer) wait a fraction of a second behind it at most.
        self._batch = batch_size
        self._interval = interval_seconds

    async def run_once(self, max_batches: int = 100) -> int:
        """Events folded in this pass."""
        async with self._db.reading() as tx:
            if not await rollups.behind(tx):
                return 0
        folded = 0
        for _ in range(max_batches):
            async with self._db.transaction() as tx:
                done = await rollups.fold(tx, now=self._clock(), batch=self._batch)
            folded += done.events
            # Fewer than a batch: caught up, waiting at a gap, or another process folds.
            if done.events < self._batch:
                break
        return folded

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                folded = await self.run_once()
                if folded:
                    log.debug("rollups: %d events folded", folded)
            except MisivaError as error:
                log.error("rollups paused: %s", error.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)


async def catch_up(db: Database, now: datetime) -> None:
    """Fold at most one small batch, so a reader sees what happened a moment ago."""
    await RollupFolder(db, clock=lambda: now, batch_size=CATCH_UP_BATCH).run_once(max_batches=1)
