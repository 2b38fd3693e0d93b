"""Measure a server's sending health from the hourly rollups: bounce, complaint and deferral
rates and the 95th percentile of delivery time, for the server, each stream and each mailbox
provider, over each sliding window (a few hundred rollup rows, never the events); and, from
their own tables, each sending domain's failing DNS records, each promo pool's stock and each
automation trigger's errors of the last hour."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from misiva.domain.alerts import (
    AUTOMATION_LEVELS,
    WINDOWS,
    AlertMetric,
    AlertScope,
    Measurement,
    Window,
    pool_levels,
    provider_of,
)
from misiva.domain.promo import Exhaustion
from misiva.domain.stats import LATENCY_BOUNDS, Dimension, Metric, Step, percentile
from misiva.storage import Tx, automation_stats, health, rollups
from misiva.storage import domains as domain_store
from misiva.storage import promo as promo_store

# A percentile past the last bucket is "slower than four days": kept as that bound, so the
# value stays a number every database stores.
_SLOWEST = float(LATENCY_BOUNDS[-1])


@dataclass
class _Counts:
    """What one subject's rates are made of, over one window."""

    metrics: dict[Metric, int] = field(default_factory=dict)
    deferred: int = 0
    latency: dict[int, int] = field(default_factory=dict)

    def add(self, metrics: Mapping[Metric, int], deferred: int, latency: Mapping[int, int]) -> None:
        for metric, n in metrics.items():
            self.metrics[metric] = self.metrics.get(metric, 0) + n
        self.deferred += deferred
        for bucket, n in latency.items():
            self.latency[bucket] = self.latency.get(bucket, 0) + n


def window_start(window: Window, now: datetime) -> datetime:
    """The first hourly row a window reads: the hour `span` ago falls in."""
    return (now - window.span).replace(minute=0, second=0, microsecond=0)


async def measure(tx: Tx, server_id: int, now: datetime) -> list[Measurement]:
    """Every measurement of the server, over every window, in one read transaction."""
    found: list[Measurement] = []
    for window in WINDOWS:
        since = window_start(window, now)
        subjects = await _subjects(tx, server_id, since)
        for (scope, subject), counts in subjects.items():
            found += _measurements(scope, subject, window, counts)
    return (
        found
        + await _dns_measurements(tx, server_id)
        + await _stock_measurements(tx, server_id, now)
        + await _automation_measurements(tx, server_id, now)
    )


async def _dns_measurements(tx: Tx, server_id: int) -> list[Measurement]:
    """Each checked sending domain's failing records, from its last stored check (the
    scheduler re-checks them): an alert opens when one fails and resolves once all pass.
    A record the DNS did not answer for is no failure: a timeout is not a broken record."""
    checks = await domain_store.last_checks(tx, server_id)
    names = {d.id: d.name for d in await domain_store.list_domains(tx, server_id)}
    found = []
    for domain_id, check in checks.items():
        failed = check.failed
        found.append(
            Measurement(
                AlertMetric.DNS_FAILING,
                AlertScope.DOMAIN,
                names.get(domain_id, str(domain_id)),
                # The shortest window: a DNS state is now, and resolving waits that long.
                WINDOWS[0],
                float(len(failed)),
                1,
                {"records": [f"{r.kind.value} {r.name}" for r in failed]},
            )
        )
    return found


async def _stock_measurements(tx: Tx, server_id: int, now: datetime) -> list[Measurement]:
    """Each running or upcoming promo pool's codes left, against its own low-stock threshold
    (a threshold of 0 alerts only when none is left). The `1h` window, as for DNS: a stock
    is a state now, not a rate over time."""
    return [
        Measurement(
            AlertMetric.PROMO_STOCK,
            AlertScope.POOL,
            pool.key,
            WINDOWS[0],
            float(left),
            1,
            {"low_stock_threshold": pool.low_stock_threshold, "exhaustion": pool.exhaustion.value},
            pool_levels(pool.low_stock_threshold, pool.exhaustion is Exhaustion.REFUSE),
        )
        for pool, left in await promo_store.stock_levels(tx, server_id, now)
    ]


async def _automation_measurements(tx: Tx, server_id: int, now: datetime) -> list[Measurement]:
    """Each trigger with errors in the last hour: events it recorded an error on (it would have
    sent a broken email, so it sent none) and its scheduled messages refused at release. Only
    triggers with errors are measured: once an hour passes without one, the alert resolves."""
    since = now - WINDOWS[0].span
    errors = await automation_stats.recent_errors(tx, server_id, since)
    failures = await automation_stats.recent_failures(tx, server_id, since)
    found = []
    for key in sorted(errors.keys() | failures.keys()):
        erred, reason = errors.get(key, (0, ""))
        failed, error = failures.get(key, (0, ""))
        details = {"errors": erred, "failed": failed, "reason": reason or error}
        found.append(
            Measurement(
                AlertMetric.AUTOMATION_ERRORS,
                AlertScope.TRIGGER,
                key,
                WINDOWS[0],
                float(erred + failed),
                1,
                details,
                AUTOMATION_LEVELS,
            )
        )
    return found


async def _subjects(
    tx: Tx, server_id: int, since: datetime
) -> dict[tuple[AlertScope, str], _Counts]:
    subjects: dict[tuple[AlertScope, str], _Counts] = {}
    total = await rollups.breakdown(tx, server_id, Dimension.ALL, Step.HOUR, since)
    server = subjects.setdefault((AlertScope.SERVER, ""), _Counts())
    deferred = await health.deferrals(tx, server_id, Dimension.ALL, since)
    server.add(
        total.get("", {}),
        deferred.get("", 0),
        await rollups.latency_histogram(tx, server_id, since),
    )
    for dimension, scope in (
        (Dimension.STREAM, AlertScope.STREAM),
        (Dimension.DOMAIN, AlertScope.PROVIDER),
    ):
        counts = await rollups.breakdown(tx, server_id, dimension, Step.HOUR, since)
        deferrals = await health.deferrals(tx, server_id, dimension, since)
        latency = await health.latency_histograms(tx, server_id, dimension, since)
        for value in counts.keys() | deferrals.keys() | latency.keys():
            subject = provider_of(value) if scope is AlertScope.PROVIDER else value
            subjects.setdefault((scope, subject), _Counts()).add(
                counts.get(value, {}), deferrals.get(value, 0), latency.get(value, {})
            )
    return subjects


def _measurements(
    scope: AlertScope, subject: str, window: Window, counts: _Counts
) -> Iterator[Measurement]:
    m = counts.metrics
    sent, delivered = m.get(Metric.SENT, 0), m.get(Metric.DELIVERED, 0)
    bounced = m.get(Metric.BOUNCED, 0)
    attempts = delivered + bounced + counts.deferred

    def made(metric: AlertMetric, value: float, volume: int) -> Measurement:
        return Measurement(metric, scope, subject, window, value, volume)

    if sent:
        yield made(AlertMetric.BOUNCE_RATE, bounced / sent, sent)
    if delivered:
        yield made(AlertMetric.COMPLAINT_RATE, m.get(Metric.COMPLAINED, 0) / delivered, delivered)
    if attempts:
        yield made(AlertMetric.DEFERRAL_RATE, counts.deferred / attempts, attempts)
    p95 = percentile(counts.latency, 0.95)
    if p95 is not None:
        yield made(AlertMetric.DELIVERY_P95, min(p95, _SLOWEST), sum(counts.latency.values()))
