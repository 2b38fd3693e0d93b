"""The delivery worker: a claim / lease / attempt loop with a run_once() that tests call."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from misiva.delivery.deliver import Delivery, DeliveryDeps, deliver_one
from misiva.delivery.retry import RetrySchedule, settle
from misiva.domain.clock import Clock, ClockWatch, utcnow
from misiva.domain.delivery import AttemptResult, ClaimedMessage, EventRecord, RecipientOutcome
from misiva.domain.errors import MisivaError
from misiva.domain.identity import SendingIdentity
from misiva.domain.ids import new_worker_id
from misiva.domain.records import CapturedMessage
from misiva.domain.smtp import SMTPReply
from misiva.events.record import record_attempts
from misiva.storage import Database, queue
from misiva.storage import capture as capture_store
from misiva.storage import domains as domain_store

log = logging.getLogger(__name__)

INTERNAL_ERROR = SMTPReply(451, "4.3.0 local error while delivering; will retry")
# How long a worker keeps a domain's signing keys and Return-Path before reading them again:
# a rotation's new key signs within this long of its activation, and the key it replaces
# stays published for days (domain.dkim_keys.RotationPolicy), so the lag is harmless.
IDENTITY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch_size: int = 200
    concurrency: int = 50
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0


class DeliveryWorker:
    """Claims due messages, delivers them concurrently and records outcomes in batches."""

    def __init__(
        self,
        db: Database,
        deps: DeliveryDeps,
        *,
        schedule: RetrySchedule,
        config: WorkerConfig,
        clock: Clock = utcnow,
    ) -> None:
        self.worker_id = new_worker_id()
        self._db = db
        self._deps = deps
        self._schedule = schedule
        self._config = config
        self._clock = clock
        # domain id -> (monotonic time it expires, what delivery signs and returns with)
        self._identities: dict[int, tuple[float, SendingIdentity]] = {}
        self._wake = asyncio.Event()
        # Finished attempts waiting for the recorder, each with a future set once committed.
        self._done: list[tuple[Delivery, asyncio.Future[None]]] = []
        self._done_event = asyncio.Event()
        self._drained = False
        self._clock_watch = ClockWatch(clock)

    def wake(self) -> None:
        """Called after a commit that queued mail: no polling interval between accept and send."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch, deliver it all, record it all; returns how many were claimed."""
        claimed = await self._claim(self._config.batch_size)
        deliveries = await asyncio.gather(*(self._attempt(m) for m in claimed))
        await self._record(list(deliveries))
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then finish what is in flight (graceful drain)."""
        in_flight: set[asyncio.Task[None]] = set()
        self._drained = False
        recorder = asyncio.create_task(self._recorder())
        room = asyncio.Event()
        # A full worker claims again once a quarter of its slots are free, not at each free
        # slot: under load, one claim per finished delivery meant hundreds of one-row claim
        # transactions a second, each taking the write lock.
        refill_below = self._config.concurrency - max(
            1, min(self._config.batch_size, self._config.concurrency // 4)
        )

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            if len(in_flight) <= refill_below:
                room.set()

        try:
            while not stop.is_set():
                wanted = min(self._config.concurrency - len(in_flight), self._config.batch_size)
                # Clear before claiming: a commit that lands during the claim wakes us again.
                self._wake.clear()
                await self._after_clock_step()
                claimed = await self._claim_safely(wanted) if wanted > 0 else []
                for message in claimed:
                    task = asyncio.create_task(self._attempt_and_queue(message))
                    in_flight.add(task)
                    task.add_done_callback(finished)
                more_due = wanted > 0 and len(claimed) == wanted
                if len(in_flight) > refill_below:
                    room.clear()
                    await self._wait_for(stop, room)
                elif not more_due:
                    await self._wait_for(stop, self._wake)
        finally:
            if in_flight:
                log.info("draining %d deliveries in flight", len(in_flight))
                await asyncio.gather(*in_flight, return_exceptions=True)
            self._drained = True
            self._done_event.set()
            await recorder

    async def _wait_for(self, stop: asyncio.Event, event: asyncio.Event) -> None:
        """Sleep until a stop, `event` (free slots, or a commit that queued mail), or the poll
        tick, which catches retries falling due and commits whose wake-up was lost."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(event.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self._config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _claim_safely(self, limit: int) -> list[ClaimedMessage]:
        """A database that is briefly unreachable pauses delivery; it does not stop it."""
        try:
            return await self._claim(limit)
        except MisivaError as error:
            log.error("cannot claim messages, retrying: %s", error.message)
            return []

    async def _after_clock_step(self) -> None:
        """Times in the queue came from the clock before a step (domain.clock.ClockWatch):
        after a step back, waiting retries are due now instead of the step's length late;
        after a step forward, this worker's leases are renewed, so that the mail it has in
        flight is not claimed again and sent twice."""
        step = self._clock_watch.step()
        if not step:
            return
        now = self._clock()
        try:
            async with self._db.transaction() as tx:
                if step < 0:
                    count = await queue.make_waiting_due(tx, now)
                else:
                    lease_until = now + timedelta(seconds=self._config.lease_seconds)
                    count = await queue.extend_leases(tx, self.worker_id, lease_until)
        except MisivaError as error:
            log.error("clock stepped %+.0f s; queue times not reset: %s", step, error.message)
            return
        log.warning("the wall clock stepped %+.0f s: %d queued messages' times reset", step, count)

    async def _claim(self, limit: int) -> list[ClaimedMessage]:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._config.lease_seconds)
        async with self._db.transaction() as tx:
            claimed = await queue.claim_due(
                tx, worker_id=self.worker_id, now=now, lease_until=lease_until, limit=limit
            )
            moment = time.monotonic()
            stale = [
                i
                for i in {m.domain_id for m in claimed}
                if i not in self._identities or self._identities[i][0] <= moment
            ]
            fresh = await domain_store.sending_identities(tx, stale)
        for domain_id, identity in fresh.items():
            self._identities[domain_id] = (moment + IDENTITY_SECONDS, identity)
        return claimed

    async def _attempt(self, message: ClaimedMessage) -> Delivery:
        try:
            identity = self._identities[message.domain_id][1]
            return await deliver_one(message, identity, self._deps)
        except Exception:
            # A bug or an unexpected library error must not lose the message or stop the
            # worker: the attempt counts as a transient failure and is retried.
            log.exception("delivery of %s failed unexpectedly", message.id)
            outcomes = [RecipientOutcome(r, INTERNAL_ERROR) for r in message.pending]
            return Delivery(message=message, outcomes=outcomes, captured=None)

    async def _attempt_and_queue(self, message: ClaimedMessage) -> None:
        """One delivery slot: held until the outcome is committed, so the messages a crash
        can deliver twice never outnumber the concurrency limit."""
        recorded = asyncio.get_running_loop().create_future()
        delivery = await self._attempt(message)
        # Not `self._done.append(await ...)`: the recorder swaps the list during the await.
        self._done.append((delivery, recorded))
        self._done_event.set()
        await recorded

    async def _recorder(self) -> None:
        """Write finished attempts in batches: those that finish while a commit runs share
        the next one, so the database sees one transaction per batch, not per message."""
        while not (self._drained and not self._done):
            await self._done_event.wait()
            self._done_event.clear()
            batch, self._done = self._done, []
            if batch:
                await self._record_safely([delivery for delivery, _ in batch])
                for _, recorded in batch:
                    recorded.set_result(None)

    async def _record_safely(self, batch: list[Delivery]) -> None:
        try:
            await self._record(batch)
        except Exception:
            # The lease runs out and the messages are delivered again: a duplicate, never a
            # loss (at-least-once).
            log.exception("could not record %d delivery attempts", len(batch))

    async def _record(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        now = self._clock()
        attempts: list[AttemptResult] = []
        events: list[EventRecord] = []
        captured: list[CapturedMessage] = []
        for delivery in deliveries:
            result, new_events = settle(delivery.message, delivery.outcomes, now, self._schedule)
            attempts.append(result)
            events += new_events
            if delivery.captured is not None:
                captured.append(_captured(delivery, now))
        async with self._db.transaction() as tx:
            await record_attempts(tx, attempts, events)
            await capture_store.insert_captured(tx, captured)
        log.debug("recorded %d attempts", len(attempts))


def _captured(delivery: Delivery, now: datetime) -> CapturedMessage:
    assert delivery.captured is not None
    message = delivery.message
    return CapturedMessage(
        id=0,
        message_id=message.id,
        server_id=message.server_id,
        envelope_from=message.envelope_from,
        recipients=[o.recipient for o in delivery.outcomes],
        mime=delivery.captured,
        created_at=now,
    )
