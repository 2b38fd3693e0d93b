"""Purge message content after the content retention, and messages after the data retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import MisivaError
from misiva.storage import Database, retention

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    content_days: float = 45
    data_days: float = 365
    # Small batches keep each transaction short, so senders never wait behind the purge.
    batch_size: int = 500
    interval_seconds: float = 3600


class RetentionTask:
    def __init__(self, db: Database, config: RetentionConfig, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._config = config
        self._clock = clock

    async def run_once(self, max_batches: int = 100) -> tuple[int, int]:
        """One pass, bounded: (messages whose content was purged, messages deleted)."""
        now = self._clock()
        content_before = now - timedelta(days=self._config.content_days)
        data_before = now - timedelta(days=self._config.data_days)
        purged = deleted = 0
        for _ in range(max_batches):
            async with self._db.transaction() as tx:
                done = await retention.purge_content(tx, content_before, self._config.batch_size)
            purged += done
            if done < self._config.batch_size:
                break
        for _ in range(max_batches):
            async with self._db.transaction() as tx:
                done = await retention.delete_old(tx, data_before, self._config.batch_size)
            deleted += done
            if done < self._config.batch_size:
                break
        for _ in range(max_batches):
            async with self._db.transaction() as tx:
                done = await retention.delete_old_addressless(
                    tx, data_before, self._config.batch_size
                )
            if done < self._config.batch_size:
                break
        return purged, deleted

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                purged, deleted = await self.run_once()
                if purged or deleted:
                    log.info("retention: %d contents purged, %d messages deleted", purged, deleted)
            except MisivaError as error:
                log.error("retention paused: %s", error.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._config.interval_seconds)
