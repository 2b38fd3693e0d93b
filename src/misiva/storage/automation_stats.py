"""What the triggers did, counted: each rule's outcomes on the events it saw, its scheduled
messages by status, their opens, clicks and conversions, and its errors of the last hour
(what the automation-error alert measures).

A rule's outcomes live in each event's `outcome` JSON array; both databases unnest it in SQL
(jsonb_array_elements on PostgreSQL, json_each on SQLite), so counts never load events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.automation import Outcome, ScheduledStatus
from misiva.domain.enums import EventType
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events
from misiva.storage.tables_automation import app_events, scheduled_messages, triggers
from misiva.storage.tables_conversions import conversions

_e = app_events
_s = scheduled_messages

Field = Callable[[str], Any]


def _rules(tx: Tx) -> tuple[Any, Field]:
    """The rows of every event's outcome array, joined to their event, and a function that
    reads one field of such a row as text."""
    if tx.dialect.name == "postgresql":
        pg = sa.func.jsonb_array_elements(_e.c.outcome).table_valued("value").alias("rule")
        return pg, lambda name: pg.c.value.op("->>")(name)
    lite = sa.func.json_each(_e.c.outcome).table_valued("value").alias("rule")
    return lite, lambda name: sa.cast(sa.func.json_extract(lite.c.value, f"$.{name}"), sa.Text)


async def outcome_counts(
    tx: Tx,
    server_id: int,
    trigger_id: int,
    names: Sequence[str],
    since: datetime,
    until: datetime,
) -> dict[Outcome, int]:
    """What the rule did with the events (of these names) that happened in [since, until]."""
    if not names:
        return {}
    rule, field = _rules(tx)
    outcome = field("outcome")
    query = (
        sa.select(outcome, sa.func.count())
        .select_from(_e.join(rule, sa.true()))
        .where(
            _e.c.server_id == server_id,
            _e.c.name.in_(sorted(set(names))),
            _e.c.occurred_at >= since,
            _e.c.occurred_at <= until,
            field("trigger_id") == str(trigger_id),
        )
        .group_by(outcome)
    )
    return {Outcome(value): int(n) for value, n in await tx.execute(query)}


async def scheduled_counts(
    tx: Tx, trigger_id: int, since: datetime, until: datetime
) -> dict[ScheduledStatus, int]:
    """The rule's messages scheduled in [since, until], by where they are now."""
    query = (
        sa.select(_s.c.status, sa.func.count())
        .where(_s.c.trigger_id == trigger_id, _s.c.created_at >= since, _s.c.created_at <= until)
        .group_by(_s.c.status)
    )
    return {ScheduledStatus(status): int(n) for status, n in await tx.execute(query)}


async def engagement(
    tx: Tx, server_id: int, trigger_id: int, since: datetime, until: datetime
) -> tuple[int, int, int, dict[str, int]]:
    """Of the rule's messages scheduled in [since, until] and sent: how many were opened, how
    many clicked, the conversions credited to them and their value in micros per currency."""
    sent = sa.and_(
        _s.c.trigger_id == trigger_id,
        _s.c.server_id == server_id,
        _s.c.status == ScheduledStatus.SENT.value,
        _s.c.created_at >= since,
        _s.c.created_at <= until,
    )
    m = message_events

    def engaged(kind: EventType) -> Any:
        return sa.select(sa.func.count()).where(
            sent,
            sa.exists().where(
                m.c.message_id == _s.c.id, m.c.server_id == server_id, m.c.type == kind.value
            ),
        )

    opened = int((await tx.execute(engaged(EventType.OPENED))).scalar_one())
    clicked = int((await tx.execute(engaged(EventType.CLICKED))).scalar_one())
    c = conversions
    converted = (
        sa.select(c.c.currency, sa.func.count(), sa.func.sum(c.c.value_micros))
        .join(_s, sa.and_(_s.c.id == c.c.message_id, _s.c.server_id == c.c.server_id))
        .where(sent)
        .group_by(c.c.currency)
    )
    count, revenue = 0, {}
    for currency, n, micros in await tx.execute(converted):
        count += int(n)
        revenue[str(currency)] = int(micros or 0)
    return opened, clicked, count, revenue


async def recent_errors(tx: Tx, server_id: int, since: datetime) -> dict[str, tuple[int, str]]:
    """Per rule key: the events received since `since` it could not send for (a template
    missing a variable), and one of their reasons."""
    rule, field = _rules(tx)
    key, reason = field("trigger_key"), field("reason")
    query = (
        sa.select(key, sa.func.count(), sa.func.max(reason))
        .select_from(_e.join(rule, sa.true()))
        .where(
            _e.c.server_id == server_id,
            _e.c.received_at >= since,
            field("outcome") == Outcome.ERROR.value,
        )
        .group_by(key)
    )
    return {str(k): (int(n), str(r or "")) for k, n, r in await tx.execute(query)}


async def recent_failures(tx: Tx, server_id: int, since: datetime) -> dict[str, tuple[int, str]]:
    """Per rule key: its scheduled messages that failed at release since `since`, and one of
    their errors (rules deleted since are left out: nothing names them any more)."""
    t = triggers
    query = (
        sa.select(t.c.key, sa.func.count(), sa.func.max(_s.c.error))
        .join(t, t.c.id == _s.c.trigger_id)
        .where(
            _s.c.server_id == server_id,
            _s.c.status == ScheduledStatus.FAILED.value,
            _s.c.updated_at >= since,
        )
        .group_by(t.c.key)
    )
    return {str(k): (int(n), str(e or "")) for k, n, e in await tx.execute(query)}
