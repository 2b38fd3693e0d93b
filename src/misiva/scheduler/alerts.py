"""Evaluate sending-health alerts every minute: measure each server from the rollups, open
an alert when a measure crosses its warning level, keep it open (and quiet) while it stays
up, resolve it once it has stayed under warning for a window; tell people of new alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from misiva.domain.alerts import (
    RESOLVE_AT_ONCE,
    WINDOW_BY_KEY,
    WINDOWS,
    Alert,
    AlertLevel,
    AlertState,
    AlertThreshold,
    Measurement,
    Step,
    next_step,
)
from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import MisivaError
from misiva.events.alerts import record_alert
from misiva.scheduler.alert_measures import measure
from misiva.storage import Database, Tx
from misiva.storage import alerts as alert_store
from misiva.storage import servers as server_store

log = logging.getLogger(__name__)


class AlertNotifier(Protocol):
    """Tells a server's people about alerts that just opened (the runtime hands it over)."""

    async def notify(self, server_id: int, opened: list[Alert]) -> None: ...


@dataclass(frozen=True, slots=True)
class AlertConfig:
    interval_seconds: float = 60.0
    # How long a measure must stay under warning before its alert resolves (hysteresis).
    quiet: timedelta = WINDOWS[0].span


@dataclass
class Evaluated:
    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


class AlertEvaluator:
    """`run_once` evaluates every server once; `run` does so every interval until stopped."""

    def __init__(
        self,
        db: Database,
        notifier: AlertNotifier | None = None,
        config: AlertConfig | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._config = config or AlertConfig()
        self._clock = clock

    async def run_once(self) -> Evaluated:
        now = self._clock()
        async with self._db.reading() as tx:
            servers = await server_store.list_servers(tx)
        done = Evaluated()
        for server in servers:
            async with self._db.transaction() as tx:
                found = await evaluate_server(tx, server.id, now, self._config.quiet)
            done.opened += found.opened
            done.resolved += found.resolved
            if found.opened and self._notifier is not None:
                # After the commit: an email that fails leaves the alert open and recorded.
                await self._notifier.notify(server.id, found.opened)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
                if done.opened or done.resolved:
                    log.info("alerts: %d opened, %d resolved", len(done.opened), len(done.resolved))
            except MisivaError as error:
                log.error("alerts paused: %s", error.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._config.interval_seconds)


async def evaluate_server(tx: Tx, server_id: int, now: datetime, quiet: timedelta) -> Evaluated:
    """One server's alerts brought up to date with its measures, in the caller's transaction."""
    measured = {m.key: m for m in await measure(tx, server_id, now)}
    levels = await alert_store.thresholds(tx, server_id)
    open_alerts = {a.key: a for a in await alert_store.open_alerts(tx, server_id)}
    # An open alert whose subject sent nothing in the window is measured as quiet.
    for key, alert in open_alerts.items():
        if key not in measured:
            window = WINDOW_BY_KEY.get(alert.window, WINDOWS[0])
            measured[key] = Measurement(alert.metric, alert.scope, alert.subject, window, 0.0, 0)
    done = Evaluated()
    for key, m in measured.items():
        # A subject's own levels (a pool's threshold) first; a subject no longer measured
        # whose metric has no server levels (an ended or deleted pool) reads as quiet.
        threshold = m.levels or levels.get(m.metric)
        wait = timedelta(0) if m.metric in RESOLVE_AT_ONCE else quiet
        await _apply(tx, server_id, m, threshold, open_alerts.get(key), now, wait, done)
    return done


async def _apply(
    tx: Tx,
    server_id: int,
    m: Measurement,
    threshold: AlertThreshold | None,
    alert: Alert | None,
    now: datetime,
    quiet: timedelta,
    done: Evaluated,
) -> None:
    level = threshold.level(m.value, m.volume) if threshold is not None else None
    step = next_step(level, alert, now, quiet)
    if step is Step.OPEN and level is not None and threshold is not None:
        crossed = threshold.danger if level is AlertLevel.DANGER else threshold.warning
        opened = await alert_store.insert_alert(tx, server_id, m, level, crossed, now)
        if opened is not None:
            await record_alert(tx, opened, AlertState.OPEN, now)
            done.opened.append(opened)
    elif step is Step.UPDATE and alert and level is not None and threshold is not None:
        crossed = threshold.danger if level is AlertLevel.DANGER else threshold.warning
        await alert_store.update_alert(
            tx, alert, now=now, measured=m, level=level, threshold=crossed
        )
    elif step is Step.BELOW and alert is not None:
        await alert_store.update_alert(tx, alert, now=now, measured=m, level=None, threshold=None)
    elif step is Step.RESOLVE and alert is not None:
        resolved = await alert_store.resolve_alert(tx, alert, now)
        await record_alert(tx, resolved, AlertState.RESOLVED, now)
        done.resolved.append(resolved)
