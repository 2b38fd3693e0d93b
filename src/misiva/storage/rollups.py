"""The dashboard's rollups: fold new message events into hourly and daily counts, and read them.

A fold reads the events above the watermark (a bounded batch), adds them to the counters
with upserts (`count = count + new`) and moves the watermark, all in the caller's
transaction. Its watermark row is locked for the fold (FOR UPDATE on PostgreSQL; SQLite has
one writer at a time), so two folds never count the same event; and because the counters
and the watermark commit together, a fold that fails counts nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.enums import EventType
from misiva.domain.stats import (
    LATENCY_BOUNDS,
    METRIC_OF,
    Dimension,
    Metric,
    Step,
    bounce_reason,
    recipient_domain,
)
from misiva.storage import health
from misiva.storage.engine import Tx
from misiva.storage.rollup_sql import VALUE_LENGTH
from misiva.storage.rollup_sql import email_domain as _domain
from misiva.storage.rollup_sql import is_postgres as _is_postgres
from misiva.storage.rollup_sql import period_start as _start
from misiva.storage.rollup_sql import seconds_between as _seconds_between
from misiva.storage.rollup_sql import truncate as _truncate
from misiva.storage.rollup_sql import upsert_adding as _upsert
from misiva.storage.tables import message_events, messages, templates
from misiva.storage.tables_health import stats_latency, stats_rollups, stats_watermark

WATERMARK = "events"
# A gap in the event ids is an event whose transaction has not committed yet (PostgreSQL
# hands out ids at insert, not at commit) or one that rolled back or was deleted. Past this
# age of the event after it, no transaction can still be filling it: it is skipped.
SETTLE = timedelta(minutes=2)

_e = message_events
_m = messages
_COUNTED = [t.value for t in METRIC_OF]
# (server_id, step, dimension, start, value, metric) -> how many.
Counts = Counter[tuple[int, str, str, datetime, str, str]]


@dataclass(frozen=True, slots=True)
class Folded:
    events: int  # events read (of every type) and now behind the watermark
    up_to: int  # the watermark after the fold


# --- Folding -------------------------------------------------------------------------------


async def fold(tx: Tx, *, now: datetime, batch: int = 20_000) -> Folded:
    """Count the next events above the watermark (at most `batch`) into the rollups; (0, ...)
    when there is nothing new or another fold holds the watermark."""
    start = await _lock_watermark(tx, now)
    if start is None:
        return Folded(0, 0)
    end, read = await _settled_end(tx, start, now, batch)
    if end == start:
        return Folded(0, start)
    await tx.execute(
        _upsert(tx, stats_rollups).from_select(_ROLLUP_COLUMNS, _counted(tx, start, end))
    )
    await _count_in_python(tx, start, end)
    await tx.execute(
        _upsert(tx, stats_latency).from_select(
            ["server_id", "hour", "bucket", "count"], _latencies(tx, start, end)
        )
    )
    # What the alerts read besides: deferrals and latency per stream and recipient domain.
    await health.fold(tx, start, end)
    await tx.execute(
        sa.update(stats_watermark)
        .where(stats_watermark.c.name == WATERMARK)
        .values(last_event_id=end, updated_at=now)
    )
    return Folded(read, end)


async def behind(tx: Tx) -> bool:
    """Whether events wait above the watermark (a cheap check before taking a write lock)."""
    mark = sa.select(stats_watermark.c.last_event_id).where(stats_watermark.c.name == WATERMARK)
    newest = sa.select(sa.func.max(_e.c.id)).scalar_subquery()
    row = (await tx.execute(sa.select(newest, mark.scalar_subquery()))).one()
    return row[0] is not None and (row[1] is None or row[0] > row[1])


async def _lock_watermark(tx: Tx, now: datetime) -> int | None:
    """The watermark, locked until the transaction ends; None if another fold holds it
    (PostgreSQL: it will have counted those events by the time it commits)."""
    query = (
        sa.select(stats_watermark.c.last_event_id)
        .where(stats_watermark.c.name == WATERMARK)
        .with_for_update(skip_locked=True)
    )
    found = (await tx.execute(query)).first()
    if found is not None:
        return int(found[0])
    insert = pg_insert if _is_postgres(tx) else sqlite_insert
    await tx.execute(
        insert(stats_watermark)
        .values(name=WATERMARK, last_event_id=0, updated_at=now)
        .on_conflict_do_nothing()
    )
    found = (await tx.execute(query)).first()
    return int(found[0]) if found is not None else None


async def _settled_end(tx: Tx, start: int, now: datetime, batch: int) -> tuple[int, int]:
    """The last id of the next run of events that can no longer change: up to `batch` ids
    above `start`, stopping before a gap that a transaction still running may fill."""
    rows = await tx.execute(
        sa.select(_e.c.id, _e.c.created_at).where(_e.c.id > start).order_by(_e.c.id).limit(batch)
    )
    end = start
    read = 0
    for event_id, created_at in rows:
        if event_id != end + 1 and created_at > now - SETTLE:
            break
        end, read = event_id, read + 1
    return end, read


_ROLLUP_COLUMNS = ["server_id", "step", "dimension", "start", "value", "metric", "count"]


def _metric() -> Any:
    return sa.case(*((_e.c.type == t.value, m.value) for t, m in METRIC_OF.items()))


def _counted(tx: Tx, start: int, end: int) -> Any:
    """Counts per server, step, dimension, start, value and metric of the events in
    (start, end]: one GROUP BY per step and dimension, joined into one statement. Queued
    events of several recipients (sent counts per recipient) and bounce reasons are counted
    in Python."""
    where = [
        _e.c.id > start,
        _e.c.id <= end,
        _e.c.type.in_(_COUNTED),
        sa.not_(sa.and_(_e.c.type == EventType.QUEUED.value, _e.c.recipient.contains(","))),
    ]
    # Each event's values once, in a subquery, and the groups over its columns: PostgreSQL
    # then never has to match an expression of the select list with one of the GROUP BY.
    rows = (
        sa.select(
            _e.c.server_id,
            _start(tx, Step.HOUR, _e.c.created_at).label(Step.HOUR.value),
            _start(tx, Step.DAY, _e.c.created_at).label(Step.DAY.value),
            _metric().label("metric"),
            _m.c.stream,
            sa.func.coalesce(sa.cast(_m.c.template_id, sa.String), "").label("template"),
            sa.func.coalesce(sa.func.substr(_m.c.tag, 1, VALUE_LENGTH), "").label("tag"),
            _domain(tx, _e.c.recipient).label("domain"),
        )
        .select_from(_e.join(_m, _m.c.id == _e.c.message_id))
        .where(*where)
        .cte("counted_events")
    )
    values = {
        Dimension.ALL: None,
        Dimension.STREAM: rows.c.stream,
        Dimension.TEMPLATE: rows.c.template,
        Dimension.TAG: rows.c.tag,
        Dimension.DOMAIN: rows.c.domain,
    }
    parts = []
    for step in Step:
        began = rows.c[step.value]
        for dimension, value in values.items():
            keys = [rows.c.server_id, began, *([] if value is None else [value]), rows.c.metric]
            parts.append(
                sa.select(
                    rows.c.server_id,
                    sa.literal_column(f"'{step.value}'"),
                    sa.literal_column(f"'{dimension.value}'"),
                    began,
                    sa.literal_column("''") if value is None else value,
                    rows.c.metric,
                    sa.func.count(),
                ).group_by(*keys)
            )
    return sa.union_all(*parts)


async def _count_in_python(tx: Tx, start: int, end: int) -> None:
    """What SQL counts badly: a message to several recipients is sent to each (and to each
    one's domain), and a bounce's reason is a summary of the remote server's words. Both are
    a small share of the events."""
    rows = await tx.execute(
        sa.select(
            _e.c.server_id,
            _e.c.type,
            _e.c.created_at,
            _e.c.recipient,
            _e.c.details,
            _m.c.stream,
            _m.c.template_id,
            _m.c.tag,
        )
        .select_from(_e.join(_m, _m.c.id == _e.c.message_id))
        .where(
            _e.c.id > start,
            _e.c.id <= end,
            sa.or_(
                sa.and_(_e.c.type == EventType.QUEUED.value, _e.c.recipient.contains(",")),
                _e.c.type == EventType.BOUNCED.value,
            ),
        )
    )
    counts: Counts = Counter()
    for row in rows:
        for step in Step:
            began = _truncate(row.created_at, step)
            for (dimension, value, metric), n in _python_counts(row).items():
                counts[(row.server_id, step, dimension, began, value, metric)] += n
    await add_counts(tx, counts)


def _python_counts(row: Any) -> Counter[tuple[Dimension, str, Metric]]:
    """One event's counts: a bounce's reason, or a message's recipients sent to."""
    counts: Counter[tuple[Dimension, str, Metric]] = Counter()
    if row.type == EventType.BOUNCED.value:
        counts[(Dimension.BOUNCE_REASON, bounce_reason(row.details), Metric.BOUNCED)] += 1
        return counts
    recipients = [r for r in (p.strip() for p in row.recipient.split(",")) if r]
    values = {
        Dimension.ALL: "",
        Dimension.STREAM: row.stream,
        Dimension.TEMPLATE: "" if row.template_id is None else str(row.template_id),
        Dimension.TAG: (row.tag or "")[:VALUE_LENGTH],
    }
    for dimension, value in values.items():
        counts[(dimension, value, Metric.SENT)] += len(recipients)
    for recipient in recipients:
        counts[(Dimension.DOMAIN, recipient_domain(recipient)[:VALUE_LENGTH], Metric.SENT)] += 1
    return counts


async def add_counts(tx: Tx, counts: Counts) -> None:
    """Add to the counters (creating them when new)."""
    if counts:
        await tx.execute(
            _upsert(tx, stats_rollups),
            [dict(zip(_ROLLUP_COLUMNS, (*key, n), strict=True)) for key, n in counts.items()],
        )


def _latencies(tx: Tx, start: int, end: int) -> Any:
    """Histogram counts, per server and hour, of the seconds from accept to the first
    delivered event of each message whose first delivery is in (start, end]."""
    earlier = sa.alias(message_events, "earlier")
    first = ~sa.exists().where(
        earlier.c.message_id == _e.c.message_id,
        earlier.c.server_id == _e.c.server_id,
        earlier.c.type == EventType.DELIVERED.value,
        earlier.c.id < _e.c.id,
    )
    seconds = _seconds_between(tx, _m.c.accepted_at, _e.c.created_at)
    bucket = sa.case(
        *((seconds <= bound, index) for index, bound in enumerate(LATENCY_BOUNDS)),
        else_=len(LATENCY_BOUNDS),
    )
    rows = (
        sa.select(
            _e.c.server_id,
            _start(tx, Step.HOUR, _e.c.created_at).label("hour"),
            sa.type_coerce(bucket, sa.Integer).label("bucket"),
        )
        .select_from(_e.join(_m, _m.c.id == _e.c.message_id))
        .where(_e.c.id > start, _e.c.id <= end, _e.c.type == EventType.DELIVERED.value, first)
        .cte("first_deliveries")
    )
    return sa.select(rows.c.server_id, rows.c.hour, rows.c.bucket, sa.func.count()).group_by(
        rows.c.server_id, rows.c.hour, rows.c.bucket
    )


# --- Reading ---------------------------------------------------------------------------------


async def totals(
    tx: Tx, server_id: int, step: Step, since: datetime
) -> list[tuple[datetime, Metric, int]]:
    """The server's totals per hour (or day) and metric from `since` (a step's start) on."""
    r = stats_rollups
    rows = await tx.execute(
        sa.select(r.c.start, r.c.metric, r.c.count).where(
            r.c.server_id == server_id,
            r.c.step == step.value,
            r.c.dimension == Dimension.ALL.value,
            r.c.start >= since,
        )
    )
    return [(began.astimezone(UTC), Metric(metric), int(n)) for began, metric, n in rows]


async def breakdown(
    tx: Tx, server_id: int, dimension: Dimension, step: Step, since: datetime
) -> dict[str, dict[Metric, int]]:
    """Each value of a dimension with its counts per metric since `since` (a step's start)."""
    r = stats_rollups
    rows = await tx.execute(
        sa.select(r.c.value, r.c.metric, sa.func.sum(r.c.count))
        .where(
            r.c.server_id == server_id,
            r.c.step == step.value,
            r.c.dimension == dimension.value,
            r.c.start >= since,
        )
        .group_by(r.c.value, r.c.metric)
    )
    found: dict[str, dict[Metric, int]] = {}
    for value, metric, n in rows:
        found.setdefault(value, {})[Metric(metric)] = int(n)
    return found


async def latency_histogram(tx: Tx, server_id: int, since: datetime) -> dict[int, int]:
    total = sa.func.sum(stats_latency.c.count)
    rows = await tx.execute(
        sa.select(stats_latency.c.bucket, total)
        .where(stats_latency.c.server_id == server_id, stats_latency.c.hour >= since)
        .group_by(stats_latency.c.bucket)
    )
    return {int(bucket): int(n) for bucket, n in rows}


async def template_names(tx: Tx, server_id: int, ids: Iterable[int]) -> dict[int, str]:
    wanted: Sequence[int] = sorted(set(ids))
    if not wanted:
        return {}
    rows = await tx.execute(
        sa.select(templates.c.id, templates.c.name).where(
            templates.c.server_id == server_id, templates.c.id.in_(wanted)
        )
    )
    return {int(i): str(name) for i, name in rows}


async def watermark(tx: Tx) -> int:
    found = await tx.execute(
        sa.select(stats_watermark.c.last_event_id).where(stats_watermark.c.name == WATERMARK)
    )
    return int(found.scalar_one_or_none() or 0)
