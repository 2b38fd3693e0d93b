"""Group commit: submissions that arrive while a commit runs share the next transaction.

Accept = commit still holds for every request (each awaits its own group's commit before
anyone answers), but concurrent requests share one transaction and one fsync instead of
queueing for the write lock one by one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from misiva.domain.records import NewMessage
from misiva.events.record import record_queued
from misiva.storage import Database, Tx
from misiva.storage import idempotency as idempotency_store
from misiva.storage.notify import notify


@dataclass(frozen=True, slots=True)
class Submission:
    """What one request stores: its messages, and its answer under its Idempotency-Key."""

    server_id: int
    messages: list[NewMessage]
    idempotency_key: str | None
    response: Any
    now: datetime


class GroupCommitter:
    def __init__(self, db: Database, idempotency_window: timedelta) -> None:
        self._db = db
        self._window = idempotency_window
        self._waiting: list[tuple[Submission, asyncio.Future[bool]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def commit(self, submission: Submission) -> bool:
        """Store the submission; False when another request already holds its key."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((submission, future))
        if not self._running:
            self._running = True
            # Kept, so the event loop's weak reference is not the only one.
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        # No await between the emptiness check and clearing the flag: a submission that
        # arrives afterwards sees the flag down and starts the next drain itself.
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    async with self._db.transaction() as tx:
                        stored = [await self._stage(tx, s) for s, _ in group]
                        await notify(tx)
                        await record_queued(
                            tx,
                            [
                                m
                                for (s, _), ok in zip(group, stored, strict=True)
                                if ok
                                for m in s.messages
                            ],
                        )
                except BaseException as error:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for (_, future), ok in zip(group, stored, strict=True):
                    if not future.done():
                        future.set_result(ok)
        finally:
            self._running = False

    async def _stage(self, tx: Tx, s: Submission) -> bool:
        # Only a submission that queues something is remembered: a refused one can be
        # corrected and sent again under the same key.
        if not s.idempotency_key or not s.messages:
            return True
        return await idempotency_store.save_response(
            tx,
            s.server_id,
            s.idempotency_key,
            200,
            s.response,
            s.now,
            expired_before=s.now - self._window,
        )
