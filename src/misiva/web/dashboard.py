"""What the dashboard shows, read from the rollups: volumes over time, rates against their
danger thresholds, delivery latency, breakdowns and the top bounce reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from misiva.domain.stats import (
    BOUNCE_RATE,
    COMPLAINT_RATE,
    DELIVERY_RATE,
    Dimension,
    Level,
    Metric,
    Step,
    Threshold,
    percentile,
    rate,
)
from misiva.storage import Database, rollups
from misiva.web.i18n import N_

HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
# Rows of each breakdown table; the rest are summed up in one line.
TOP: Final = 10


@dataclass(frozen=True, slots=True)
class Range:
    key: str
    label: str
    step: timedelta
    steps: int
    rollup: Step


RANGES: Final = {
    r.key: r
    for r in (
        Range("24h", N_("Last 24 hours"), HOUR, 24, Step.HOUR),
        Range("7d", N_("Last 7 days"), DAY, 7, Step.DAY),
        Range("30d", N_("Last 30 days"), DAY, 30, Step.DAY),
    )
}
DEFAULT_RANGE: Final = "24h"
METRICS: Final = tuple(Metric)
METRIC_LABEL: Final[dict[Metric, str]] = {
    Metric.SENT: N_("Sent"),
    Metric.DELIVERED: N_("Deliveries"),
    Metric.BOUNCED: N_("Bounces"),
    Metric.COMPLAINED: N_("Complaints"),
    Metric.OPENED: N_("Opens"),
    Metric.CLICKED: N_("Clicks"),
}
LEVEL_LABEL: Final[dict[str, str]] = {
    Level.GOOD.value: N_("Good"),
    Level.WARNING.value: N_("Warning"),
    Level.DANGER.value: N_("Danger"),
}
BREAKDOWNS: Final = (
    (Dimension.STREAM, N_("By stream")),
    (Dimension.TEMPLATE, N_("By template")),
    (Dimension.TAG, N_("By tag")),
    (Dimension.DOMAIN, N_("By recipient domain")),
)


@dataclass(frozen=True, slots=True)
class Point:
    start: datetime
    counts: dict[Metric, int]


@dataclass(frozen=True, slots=True)
class RateView:
    label: str
    rate: float | None
    threshold: Threshold
    explanation: str

    @property
    def level(self) -> str | None:
        return None if self.rate is None else self.threshold.level(self.rate).value


@dataclass(frozen=True, slots=True)
class Row:
    """One value of a breakdown; `name` None for "none" (no tag, no template)."""

    name: str | None
    counts: dict[Metric, int]

    @property
    def bounce_rate(self) -> float | None:
        return rate(self.counts.get(Metric.BOUNCED, 0), self.counts.get(Metric.SENT, 0))

    @property
    def open_rate(self) -> float | None:
        return rate(self.counts.get(Metric.OPENED, 0), self.counts.get(Metric.DELIVERED, 0))


@dataclass(frozen=True, slots=True)
class Breakdown:
    title: str
    dimension: Dimension
    rows: list[Row]
    others: int  # values not shown


@dataclass(frozen=True, slots=True)
class Dashboard:
    range: Range
    since: datetime
    until: datetime
    points: list[Point]
    totals: dict[Metric, int]
    rates: list[RateView]
    p50: float | None
    p95: float | None
    breakdowns: list[Breakdown]
    reasons: list[tuple[str, int]]


def window(chosen: Range, now: datetime) -> tuple[datetime, datetime]:
    """[since, until): whole hours (or whole UTC days) ending with the current one."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    until = hour + HOUR if chosen.step == HOUR else hour.replace(hour=0) + DAY
    return until - chosen.step * chosen.steps, until


async def load(db: Database, server_id: int, chosen: Range, now: datetime) -> Dashboard:
    """Everything the page shows, in one read-only transaction over the rollups."""
    since, until = window(chosen, now)
    async with db.reading() as tx:
        step = chosen.rollup
        series = await rollups.totals(tx, server_id, step, since)
        counts = {d: await rollups.breakdown(tx, server_id, d, step, since) for d, _ in BREAKDOWNS}
        reasons = await rollups.breakdown(tx, server_id, Dimension.BOUNCE_REASON, step, since)
        histogram = await rollups.latency_histogram(tx, server_id, since)
        ids = [int(v) for v in counts[Dimension.TEMPLATE] if v.isdigit()]
        names = await rollups.template_names(tx, server_id, ids)
    points = _points(series, chosen, since)
    totals = {m: sum(p.counts[m] for p in points) for m in METRICS}
    return Dashboard(
        range=chosen,
        since=since,
        until=until,
        points=points,
        totals=totals,
        rates=_rates(totals),
        p50=percentile(histogram, 0.5),
        p95=percentile(histogram, 0.95),
        breakdowns=[_breakdown(d, title, counts[d], names) for d, title in BREAKDOWNS],
        reasons=sorted(
            ((r, c.get(Metric.BOUNCED, 0)) for r, c in reasons.items()), key=lambda x: -x[1]
        )[:TOP],
    )


def _points(
    series: list[tuple[datetime, Metric, int]], chosen: Range, since: datetime
) -> list[Point]:
    points = [
        Point(since + chosen.step * i, dict.fromkeys(METRICS, 0)) for i in range(chosen.steps)
    ]
    for began, metric, n in series:
        index = int((began - since) / chosen.step)
        if 0 <= index < len(points):
            points[index].counts[metric] += n
    return points


def _rates(totals: Mapping[Metric, int]) -> list[RateView]:
    sent = totals[Metric.SENT]
    return [
        RateView(
            N_("Delivery rate"),
            rate(totals[Metric.DELIVERED], sent),
            DELIVERY_RATE,
            N_("Delivered of sent. Warning below 95%, danger below 90%."),
        ),
        RateView(
            N_("Bounce rate"),
            rate(totals[Metric.BOUNCED], sent),
            BOUNCE_RATE,
            N_("Bounced of sent. Warning from 5%; from 10%, providers pause senders."),
        ),
        RateView(
            N_("Complaint rate"),
            rate(totals[Metric.COMPLAINED], totals[Metric.DELIVERED]),
            COMPLAINT_RATE,
            N_("Complaints of delivered. Gmail asks for under 0.1% and filters senders from 0.3%."),
        ),
    ]


def _breakdown(
    dimension: Dimension, title: str, counts: dict[str, dict[Metric, int]], names: dict[int, str]
) -> Breakdown:
    rows = [Row(_name(dimension, value, names), dict(c)) for value, c in counts.items()]
    rows.sort(key=lambda r: (-r.counts.get(Metric.SENT, 0), -sum(r.counts.values()), r.name or ""))
    return Breakdown(title, dimension, rows[:TOP], max(0, len(rows) - TOP))


def _name(dimension: Dimension, value: str, names: dict[int, str]) -> str | None:
    if not value:
        return None
    if dimension is Dimension.TEMPLATE and value.isdigit():
        return names.get(int(value), f"#{value}")
    return value
