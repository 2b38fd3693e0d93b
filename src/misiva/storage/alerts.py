"""Alerts and their thresholds: open one per thing at most, update, resolve, list; and who is
told (a server's owners and developers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.alerts import (
    DEFAULT_THRESHOLDS,
    Alert,
    AlertLevel,
    AlertMetric,
    AlertScope,
    AlertState,
    AlertThreshold,
    Measurement,
)
from misiva.domain.users import Role
from misiva.storage.engine import Tx
from misiva.storage.tables import user_servers, users
from misiva.storage.tables_health import alert_thresholds, alerts

_a = alerts


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        server_id=row.server_id,
        metric=AlertMetric(row.metric),
        scope=AlertScope(row.scope),
        subject=row.subject,
        window=row.window,
        level=AlertLevel(row.level),
        value=float(row.value),
        threshold=float(row.threshold),
        volume=int(row.volume),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        below_since=row.below_since,
        resolved_at=row.resolved_at,
        details=dict(row.details),
    )


# --- Thresholds ------------------------------------------------------------------------------


async def thresholds(tx: Tx, server_id: int) -> dict[AlertMetric, AlertThreshold]:
    """The server's levels: its own where set, the defaults elsewhere."""
    found = dict(DEFAULT_THRESHOLDS)
    t = alert_thresholds
    for row in await tx.execute(sa.select(t).where(t.c.server_id == server_id)):
        metric = AlertMetric(row.metric)
        found[metric] = AlertThreshold(metric, row.warning, row.danger, row.min_volume)
    return found


async def set_threshold(tx: Tx, server_id: int, threshold: AlertThreshold, now: datetime) -> None:
    insert = pg_insert if tx.dialect.name == "postgresql" else sqlite_insert
    values = {
        "warning": threshold.warning,
        "danger": threshold.danger,
        "min_volume": threshold.min_volume,
        "updated_at": now,
    }
    await tx.execute(
        insert(alert_thresholds)
        .values(server_id=server_id, metric=threshold.metric.value, **values)
        .on_conflict_do_update(index_elements=["server_id", "metric"], set_=values)
    )


async def reset_threshold(tx: Tx, server_id: int, metric: AlertMetric) -> None:
    t = alert_thresholds
    await tx.execute(sa.delete(t).where(t.c.server_id == server_id, t.c.metric == metric.value))


# --- Alerts ----------------------------------------------------------------------------------


async def open_alerts(tx: Tx, server_id: int) -> list[Alert]:
    rows = await tx.execute(
        sa.select(_a)
        .where(_a.c.server_id == server_id, _a.c.open_key.is_not(None))
        .order_by(_a.c.opened_at.desc(), _a.c.id.desc())
    )
    return [_alert(row) for row in rows]


async def list_alerts(
    tx: Tx,
    server_id: int,
    *,
    state: AlertState | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Alert]]:
    """Newest first, with how many match."""
    where = [_a.c.server_id == server_id]
    if state is AlertState.OPEN:
        where.append(_a.c.open_key.is_not(None))
    elif state is AlertState.RESOLVED:
        where.append(_a.c.open_key.is_(None))
    total = await tx.execute(sa.select(sa.func.count()).select_from(_a).where(*where))
    rows = await tx.execute(
        sa.select(_a)
        .where(*where)
        .order_by(_a.c.opened_at.desc(), _a.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total.scalar_one()), [_alert(row) for row in rows]


async def insert_alert(
    tx: Tx,
    server_id: int,
    measured: Measurement,
    level: AlertLevel,
    threshold: float,
    now: datetime,
) -> Alert | None:
    """The new open alert; None when one is open for the same thing already (another
    evaluator opened it a moment ago)."""
    insert = pg_insert if tx.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(_a)
        .values(
            server_id=server_id,
            metric=measured.metric.value,
            scope=measured.scope.value,
            subject=measured.subject[:255],
            window=measured.window.key,
            level=level.value,
            value=measured.value,
            threshold=threshold,
            volume=measured.volume,
            details=dict(measured.details),
            open_key=measured.key[:320],
            opened_at=now,
            updated_at=now,
            below_since=None,
            resolved_at=None,
        )
        .on_conflict_do_nothing(index_elements=["server_id", "open_key"])
        .returning(*_a.c)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _alert(row) if row else None


async def update_alert(
    tx: Tx,
    alert: Alert,
    *,
    now: datetime,
    measured: Measurement,
    level: AlertLevel | None,
    threshold: float | None,
) -> Alert:
    """An open alert measured again: above warning it keeps its level (or changes it) and
    forgets any quiet period; under it, its quiet period starts (once)."""
    if level is not None and threshold is not None:
        values: dict[str, Any] = {
            "level": level.value,
            "threshold": threshold,
            "below_since": None,
        }
    else:
        values = {"below_since": alert.below_since or now}
    values |= {"value": measured.value, "volume": measured.volume, "updated_at": now}
    if measured.details:
        values["details"] = dict(measured.details)
    await tx.execute(sa.update(_a).where(_a.c.id == alert.id).values(**values))
    changed: dict[str, Any] = {**values}
    if "level" in changed:
        changed["level"] = AlertLevel(changed["level"])
    return replace(alert, **changed)


async def resolve_alert(tx: Tx, alert: Alert, now: datetime) -> Alert:
    await tx.execute(
        sa.update(_a)
        .where(_a.c.id == alert.id)
        .values(open_key=None, resolved_at=now, updated_at=now)
    )
    return replace(alert, resolved_at=now, updated_at=now)


async def alert_recipients(tx: Tx, server_id: int) -> list[tuple[str, str]]:
    """(email, locale) of who hears about a server's alerts: every owner, and the
    developers given that server; never a disabled account."""
    developer = sa.and_(
        users.c.role == Role.DEVELOPER.value,
        sa.exists().where(
            user_servers.c.user_id == users.c.id, user_servers.c.server_id == server_id
        ),
    )
    rows = await tx.execute(
        sa.select(users.c.email, users.c.locale)
        .where(users.c.disabled.is_(False), sa.or_(users.c.role == Role.OWNER.value, developer))
        .order_by(users.c.email)
    )
    return [(str(email), str(locale)) for email, locale in rows]
