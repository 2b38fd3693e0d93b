"""What the alerts read beside the dashboard's rollups: deferred attempts, and first-delivery
latency histograms, per hour along the server ("all"), its streams and recipient domains.

Folded by `rollups.fold` in its own transaction and under its watermark, so each event is
counted here exactly when it is counted there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.enums import EventType
from misiva.domain.stats import LATENCY_BOUNDS, Dimension, Step
from misiva.storage.engine import Tx
from misiva.storage.rollup_sql import email_domain, period_start, seconds_between, upsert_adding
from misiva.storage.tables import message_events, messages
from misiva.storage.tables_health import stats_deferrals, stats_latency_by

_e = message_events
_m = messages
# The dimensions kept here: the server's total of deferrals ("all"; its latency total is
# stats_latency), each stream and each recipient domain (providers are families of domains).
DIMENSIONS = (Dimension.ALL, Dimension.STREAM, Dimension.DOMAIN)


async def fold(tx: Tx, start: int, end: int) -> None:
    """Add the deferred and first-delivered events with ids in (start, end]."""
    await tx.execute(
        upsert_adding(tx, stats_deferrals).from_select(
            ["server_id", "hour", "dimension", "value", "count"], _deferrals(tx, start, end)
        )
    )
    await tx.execute(
        upsert_adding(tx, stats_latency_by).from_select(
            ["server_id", "hour", "dimension", "value", "bucket", "count"],
            _latencies(tx, start, end),
        )
    )


def _grouped(rows: Any, extra: list[Any], dimensions: tuple[Dimension, ...]) -> Any:
    """One GROUP BY per dimension over a CTE with server_id, hour, stream and domain."""
    values = {Dimension.ALL: None, Dimension.STREAM: rows.c.stream, Dimension.DOMAIN: rows.c.domain}
    parts = []
    for dimension in dimensions:
        value = values[dimension]
        keys = [rows.c.server_id, rows.c.hour, *([] if value is None else [value]), *extra]
        parts.append(
            sa.select(
                rows.c.server_id,
                rows.c.hour,
                sa.literal_column(f"'{dimension.value}'"),
                sa.literal_column("''") if value is None else value,
                *extra,
                sa.func.count(),
            ).group_by(*keys)
        )
    return sa.union_all(*parts)


def _deferrals(tx: Tx, start: int, end: int) -> Any:
    rows = (
        sa.select(
            _e.c.server_id,
            period_start(tx, Step.HOUR, _e.c.created_at).label("hour"),
            _m.c.stream,
            email_domain(tx, _e.c.recipient).label("domain"),
        )
        .select_from(_e.join(_m, _m.c.id == _e.c.message_id))
        .where(_e.c.id > start, _e.c.id <= end, _e.c.type == EventType.DEFERRED.value)
        .cte("deferred_events")
    )
    return _grouped(rows, [], DIMENSIONS)


def _latencies(tx: Tx, start: int, end: int) -> Any:
    """As rollups' server-wide histogram (a message's first delivery only), per stream and
    recipient domain."""
    earlier = sa.alias(message_events, "earlier_delivery")
    first = ~sa.exists().where(
        earlier.c.message_id == _e.c.message_id,
        earlier.c.server_id == _e.c.server_id,
        earlier.c.type == EventType.DELIVERED.value,
        earlier.c.id < _e.c.id,
    )
    seconds = seconds_between(tx, _m.c.accepted_at, _e.c.created_at)
    bucket = sa.case(
        *((seconds <= bound, index) for index, bound in enumerate(LATENCY_BOUNDS)),
        else_=len(LATENCY_BOUNDS),
    )
    rows = (
        sa.select(
            _e.c.server_id,
            period_start(tx, Step.HOUR, _e.c.created_at).label("hour"),
            _m.c.stream,
            email_domain(tx, _e.c.recipient).label("domain"),
            sa.type_coerce(bucket, sa.Integer).label("bucket"),
        )
        .select_from(_e.join(_m, _m.c.id == _e.c.message_id))
        .where(_e.c.id > start, _e.c.id <= end, _e.c.type == EventType.DELIVERED.value, first)
        .cte("first_deliveries_by")
    )
    return _grouped(rows, [rows.c.bucket], (Dimension.STREAM, Dimension.DOMAIN))


# --- Reading ---------------------------------------------------------------------------------


async def deferrals(
    tx: Tx, server_id: int, dimension: Dimension, since: datetime
) -> dict[str, int]:
    """Deferred attempts per value of a dimension in the hours from `since` on."""
    d = stats_deferrals
    rows = await tx.execute(
        sa.select(d.c.value, sa.func.sum(d.c.count))
        .where(d.c.server_id == server_id, d.c.dimension == dimension.value, d.c.hour >= since)
        .group_by(d.c.value)
    )
    return {str(value): int(n) for value, n in rows}


async def latency_histograms(
    tx: Tx, server_id: int, dimension: Dimension, since: datetime
) -> dict[str, dict[int, int]]:
    """Per value of a dimension (stream or domain), its first-delivery histogram."""
    t = stats_latency_by
    rows = await tx.execute(
        sa.select(t.c.value, t.c.bucket, sa.func.sum(t.c.count))
        .where(t.c.server_id == server_id, t.c.dimension == dimension.value, t.c.hour >= since)
        .group_by(t.c.value, t.c.bucket)
    )
    found: dict[str, dict[int, int]] = {}
    for value, bucket, n in rows:
        found.setdefault(str(value), {})[int(bucket)] = int(n)
    return found
