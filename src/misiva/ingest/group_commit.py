"""Group commit: submissions that arrive while a commit runs share the next transaction.

Accept = commit still holds for every request (each awaits its own group's commit before
anyone answers), but concurrent requests share one transaction and one fsync instead of
queueing for the write lock one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from misiva.domain.message import SendRequest, SendResult
from misiva.domain.records import NewMessage
from misiva.events.record import record_queued
from misiva.ingest.suppressed import find_inactive
from misiva.storage import Database, Tx
from misiva.storage import idempotency as idempotency_store
from misiva.storage.notify import notify


@dataclass(frozen=True, slots=True)
class Settled:
    """A submission once its suppressed recipients are known: what it queues and answers."""

    messages: list[NewMessage]
    results: list[SendResult]


@dataclass(frozen=True, slots=True)
class Submission:
    """One request: its checked sends, how to settle them once suppressions are known, and
    its Idempotency-Key (its answer is saved under the key in the same transaction)."""

    server_id: int
    requests: Sequence[SendRequest | None]
    # Streams of the server that send only to confirmed subscribers.
    opt_in_streams: frozenset[str]
    settle: Callable[[list[frozenset[str]]], Settled]
    idempotency_key: str | None
    to_json: Callable[[list[SendResult]], Any]
    now: datetime


class GroupCommitter:
    def __init__(self, db: Database, idempotency_window: timedelta) -> None:
        self._db = db
        self._window = idempotency_window
        self._waiting: list[tuple[Submission, asyncio.Future[list[SendResult] | None]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def commit(self, submission: Submission) -> list[SendResult] | None:
        """Store the submission and return its results; None when another request already
        holds its Idempotency-Key."""
        future: asyncio.Future[list[SendResult] | None] = asyncio.get_running_loop().create_future()
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
                        answers = await self._store(tx, [s for s, _ in group])
                except BaseException as error:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for (_, future), answer in zip(group, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._running = False

    async def _store(self, tx: Tx, group: list[Submission]) -> list[list[SendResult] | None]:
        """In one transaction: the group's suppressions, its idempotency keys, its messages."""
        inactive = await find_inactive(
            tx, [(s.server_id, s.requests, s.opt_in_streams) for s in group]
        )
        settled = [s.settle(found) for s, found in zip(group, inactive, strict=True)]
        answers: list[list[SendResult] | None] = []
        to_queue: list[NewMessage] = []
        for submission, outcome in zip(group, settled, strict=True):
            if await self._remember(tx, submission, outcome):
                answers.append(outcome.results)
                to_queue += outcome.messages
            else:
                answers.append(None)
        if to_queue:
            await notify(tx)
            await record_queued(tx, to_queue)
        return answers

    async def _remember(self, tx: Tx, s: Submission, outcome: Settled) -> bool:
        """Save the answer under the submission's key; False if another request holds it.
        Only a submission that queues something is remembered: a refused one can be
        corrected and sent again under the same key."""
        if not s.idempotency_key or not outcome.messages:
            return True
        return await idempotency_store.save_response(
            tx,
            s.server_id,
            s.idempotency_key,
            200,
            s.to_json(outcome.results),
            s.now,
            expired_before=s.now - self._window,
        )
