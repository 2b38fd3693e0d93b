"""The webhook dispatcher: claim due outbox rows, post them signed, retry with backoff."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from misiva.domain.clock import Clock, ClockWatch, utcnow
from misiva.domain.errors import MisivaError
from misiva.domain.records import Webhook, WebhookDelivery
from misiva.storage import Database, Tx
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import webhooks as webhook_store
from misiva.storage.webhooks import DELIVERED, FAILED, PENDING, AttemptOutcome
from misiva.webhooks.assemble import webhook_event
from misiva.webhooks.payloads import build_payload, encode_payload
from misiva.webhooks.signing import signature_headers
from misiva.webhooks.targets import TargetRefused, TargetUnresolved, WebhookTargets

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    batch_size: int = 100
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    first_retry_seconds: float = 30.0
    max_interval_seconds: float = 3600.0
    # "A receiver that is down for hours loses nothing": retried for 30 hours.
    give_up_after_seconds: float = 30 * 3600.0
    # MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS: off, each post goes only to a public address,
    # checked after resolving the name (webhooks/targets.py).
    allow_private_targets: bool = False


class WebhookDispatcher:
    """Posts each outbox row to its webhook; the row's id is the Idempotency key."""

    def __init__(self, db: Database, config: DispatchConfig, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._config = config
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False)
        self._targets = WebhookTargets(config.allow_private_targets)

    async def close(self) -> None:
        await self._client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        watch = ClockWatch(self._clock)
        while not stop.is_set():
            try:
                # After the wall clock stepped back, retries timed by the old clock would wait
                # the step's length (domain.clock.ClockWatch): they are due now instead. Between
                # two rounds this dispatcher has nothing in flight.
                if watch.step() < 0:
                    async with self._db.transaction() as tx:
                        count = await webhook_store.make_waiting_due(tx, self._clock())
                    log.warning("the wall clock stepped back: %d webhook posts due now", count)
                done = await self.run_once()
            except MisivaError as error:
                log.error("webhook dispatch paused: %s", error.message)
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._config.poll_seconds)

    async def run_once(self) -> int:
        """Claim due deliveries, post them concurrently, record every attempt."""
        now = self._clock()
        lease = now + timedelta(seconds=self._config.lease_seconds)
        async with self._db.transaction() as tx:
            claimed = await webhook_store.claim_due(
                tx, now=now, lease_until=lease, limit=self._config.batch_size
            )
            hooks = await webhook_store.webhooks_by_id(tx, sorted({d.webhook_id for d in claimed}))
            payloads = {d.id: d.payload or await self._payload(tx, d) for d in claimed}
        outcomes = await asyncio.gather(
            *(self._post(d, hooks.get(d.webhook_id), payloads[d.id]) for d in claimed)
        )
        async with self._db.transaction() as tx:
            await webhook_store.record_attempts(tx, list(outcomes))
        return len(claimed)

    async def _payload(self, tx: Tx, delivery: WebhookDelivery) -> dict[str, object]:
        """Built once, at the first attempt, then stored: retries post the same bytes."""
        event = await event_store.get_event(tx, delivery.event_id)
        if event is None:
            return {}
        message = (
            await message_store.get_message(tx, event.message_id) if event.message_id else None
        )
        return build_payload(webhook_event(delivery.record_type, event, message))

    async def _post(
        self, delivery: WebhookDelivery, webhook: Webhook | None, payload: dict[str, object]
    ) -> AttemptOutcome:
        attempted = self._clock()
        if webhook is None:
            return self._outcome(
                delivery, attempted, None, 0.0, "webhook deleted", payload, final=True
            )
        body = encode_payload(payload)
        headers = {"Content-Type": "application/json", "User-Agent": "Misiva-Webhooks/1"}
        headers |= {h["Name"]: h["Value"] for h in webhook.http_headers if h.get("Name")}
        if webhook.http_auth and webhook.http_auth.get("Username"):
            pair = f"{webhook.http_auth['Username']}:{webhook.http_auth.get('Password', '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        headers |= signature_headers(
            webhook.secret, f"evt_{delivery.event_id}_{webhook.id}", attempted, body
        )
        try:
            target = await self._targets.pin(webhook.url)
        except (TargetRefused, TargetUnresolved) as refused:
            # Saved before the check existed, or its name now points inside (or nowhere):
            # not posted, and retried like a receiver that is down, in case the DNS changes.
            return self._outcome(delivery, attempted, None, 0.0, refused.message, payload)
        if target.host_header:
            headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        began = time.perf_counter()
        try:
            response = await self._client.post(
                target.url, content=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as error:
            latency = (time.perf_counter() - began) * 1000
            return self._outcome(
                delivery, attempted, None, latency, str(error) or type(error).__name__, payload
            )
        latency = (time.perf_counter() - began) * 1000
        if 200 <= response.status_code < 300:
            return self._outcome(
                delivery, attempted, response.status_code, latency, None, payload, delivered=True
            )
        return self._outcome(
            delivery,
            attempted,
            response.status_code,
            latency,
            f"HTTP {response.status_code}",
            payload,
        )

    def _outcome(
        self,
        delivery: WebhookDelivery,
        attempted: datetime,
        status: int | None,
        latency: float,
        error: str | None,
        payload: dict[str, object],
        *,
        delivered: bool = False,
        final: bool = False,
    ) -> AttemptOutcome:
        c = self._config
        age = (attempted - delivery.created_at).total_seconds()
        if delivered:
            new_status, next_at = DELIVERED, attempted
        elif final or age >= c.give_up_after_seconds:
            new_status, next_at = FAILED, attempted
        else:
            delay = min(
                c.first_retry_seconds * 2 ** max(delivery.attempts - 1, 0), c.max_interval_seconds
            )
            new_status, next_at = PENDING, attempted + timedelta(seconds=delay)
        return AttemptOutcome(
            delivery_id=delivery.id,
            attempted_at=attempted,
            status_code=status,
            latency_ms=latency,
            error=error,
            new_status=new_status,
            next_attempt_at=next_at,
            payload=payload,
        )
