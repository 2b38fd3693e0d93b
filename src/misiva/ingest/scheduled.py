"""The releaser: scheduled messages whose time has come are accepted like any send.

Each pass claims a batch of due rows under a lease, accepts them per server through the
one accept path (rendering, suppressions, tracking, all of it) with the row's id as the
MessageID, and marks each row sent, or failed with the reason accept gave.

Never twice: a row is leased to one releaser (SKIP LOCKED on PostgreSQL, one writer on
SQLite), and a row whose id is already a message was accepted before by a releaser that
died before marking it: it is marked sent, not accepted again. The batch's Idempotency-Key
(derived from its ids) and the messages table's primary key stand behind both.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from misiva.domain.automation import ScheduledMessage
from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.ids import new_worker_id
from misiva.domain.message import SendFields, SendResult, fields_from_json
from misiva.ingest.accept import Ingestor
from misiva.ingest.tenants import ServerDirectory
from misiva.storage import Database
from misiva.storage import scheduled as scheduled_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReleaserConfig:
    # A batch is one accept per server: 100 is a fifth of a Postmark batch, and takes well
    # under a second to render and commit, so 1,000 due in one minute leave within seconds.
    batch_size: int = 100
    # Longer than any batch takes; a releaser that dies leaves its rows to others this long.
    lease_seconds: float = 30.0
    # The longest an idle releaser sleeps: what another process schedules (a trigger in a
    # second API process, the CLI) is seen within this; its own are woken at once.
    poll_seconds: float = 1.0
    # After a failure of the database itself, the batch is tried again this much later.
    retry_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Released:
    """What one pass did: ids now messages, and ids refused with the reason."""

    sent: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    retried: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.retried)


class ScheduledReleaser:
    def __init__(
        self,
        db: Database,
        ingestor: Ingestor,
        directory: ServerDirectory,
        *,
        clock: Clock = utcnow,
        config: ReleaserConfig | None = None,
    ) -> None:
        self._db = db
        self._ingestor = ingestor
        self._directory = directory
        self._clock = clock
        self.config = config or ReleaserConfig()
        self.releaser_id = new_worker_id()
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something may be due now (a trigger's "send at once"): look without waiting."""
        self._wake.set()

    async def run_once(self) -> Released:
        """Claim one batch of due messages and release it; what happened to each."""
        self._wake.clear()
        now = self._clock()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        async with self._db.transaction() as tx:
            claimed = await scheduled_store.claim_due(
                tx,
                releaser=self.releaser_id,
                now=now,
                lease_until=lease_until,
                limit=self.config.batch_size,
            )
        by_server: dict[int, list[ScheduledMessage]] = defaultdict(list)
        for row in claimed:
            by_server[row.server_id].append(row)
        outcomes = [await self.release(server_id, rows) for server_id, rows in by_server.items()]
        return Released(
            sent=tuple(i for o in outcomes for i in o.sent),
            failed=tuple(f for o in outcomes for f in o.failed),
            retried=tuple(i for o in outcomes for i in o.retried),
        )

    async def release(self, server_id: int, rows: Sequence[ScheduledMessage]) -> Released:
        """Accept one server's claimed rows and record the outcome of each."""
        outcome = await self.accept(server_id, rows)
        now = self._clock()
        async with self._db.transaction() as tx:
            await scheduled_store.mark_sent(tx, outcome.sent, now)
            await scheduled_store.mark_failed(tx, outcome.failed, now)
            retry_at = now + timedelta(seconds=self.config.retry_seconds)
            await scheduled_store.retry_later(tx, outcome.retried, retry_at)
        if outcome.failed:
            log.warning("%d scheduled messages failed at release", len(outcome.failed))
        return outcome

    async def accept(self, server_id: int, rows: Sequence[ScheduledMessage]) -> Released:
        """The accept step alone: each row sent (now a message), failed, or to retry."""
        async with self._db.reading() as tx:
            already = await scheduled_store.accepted_among(tx, [r.id for r in rows])
        pending = [r for r in rows if r.id not in already]
        if not pending:
            return Released(sent=tuple(r.id for r in rows))
        try:
            context = await self._directory.by_id(server_id)
            results = await self._ingestor.accept(
                context,
                [_send_of(r) for r in pending],
                idempotency_key=_batch_key(pending),
                message_ids=[r.id for r in pending],
            )
        except NotFound as error:
            # The server is gone: nothing of it can be sent any more.
            return Released(failed=tuple((r.id, error.message) for r in pending))
        except Exception:
            log.exception("releasing %d scheduled messages failed; retrying", len(pending))
            return Released(sent=tuple(already), retried=tuple(r.id for r in pending))
        sent = [*already]
        failed: list[tuple[str, str]] = []
        for row, result in zip(pending, results, strict=True):
            if result.error_code == ErrorCode.OK:
                sent.append(row.id)
            else:
                failed.append((row.id, _reason(result)))
        return Released(sent=tuple(sent), failed=tuple(failed))

    async def run(self, stop: asyncio.Event) -> None:
        """Release until `stop`: a full batch is followed by the next at once; otherwise
        it sleeps until the next one falls due, the poll interval, or a wake-up."""
        while not stop.is_set():
            try:
                released = len(await self.run_once())
            except MisivaError as error:
                # The database is unreachable: the next pass tries again.
                log.warning("scheduled messages not released: %s", error.message)
                released = 0
            except Exception:
                # Not a reason to stop the API beside it: what was claimed comes back when
                # its lease ends, and the next pass tries again.
                log.exception("releasing scheduled messages failed")
                released = 0
            if released >= self.config.batch_size:
                continue
            await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        delay = self.config.poll_seconds
        with contextlib.suppress(MisivaError):
            async with self._db.reading() as tx:
                due = await scheduled_store.next_claimable_at(tx)
            if due is not None:
                # A floor, so that a row another process is claiming right now is not
                # looked at again in a tight loop.
                delay = min(delay, max(0.005, (due - self._clock()).total_seconds()))
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


def _send_of(row: ScheduledMessage) -> SendFields | MisivaError:
    try:
        return fields_from_json(row.fields)
    except (TypeError, ValueError) as error:
        return InvalidRequest(f"The scheduled send is not readable: {error}")


def _batch_key(rows: Sequence[ScheduledMessage]) -> str:
    """The batch's Idempotency-Key: a batch claimed again after a crash has the same rows."""
    digest = hashlib.sha256(",".join(sorted(r.id for r in rows)).encode()).hexdigest()
    return f"release:{digest}"


def _reason(result: SendResult) -> str:
    return f"{result.message} (ErrorCode {result.error_code})"
