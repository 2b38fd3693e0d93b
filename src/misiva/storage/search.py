"""Searching messages and counting events: the activity log and the outbound statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.records import StoredMessage
from misiva.storage.engine import Tx
from misiva.storage.messages import _stored
from misiva.storage.tables import message_events, messages


@dataclass(frozen=True, slots=True)
class MessageQuery:
    recipient: str | None = None
    from_email: str | None = None
    tag: str | None = None
    status: str | None = None  # Postmark's: queued | sent
    # The UI's: exactly these MessageStatus values (any of them); empty means any status.
    statuses: tuple[MessageStatus, ...] = ()
    template_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    stream: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _json_text(column: Any) -> Any:
    return sa.func.lower(sa.cast(column, sa.Text))


def _where(server_id: int, q: MessageQuery) -> list[Any]:
    where: list[Any] = [messages.c.server_id == server_id]
    if q.recipient:
        where.append(_json_text(messages.c.rcpt_state).like(f'%"{q.recipient.lower()}"%'))
    if q.from_email:
        where.append(sa.func.lower(messages.c.sender).like(f"%{q.from_email.lower()}%"))
    if q.tag:
        where.append(messages.c.tag == q.tag)
    if q.status:
        pending = [MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value]
        column = messages.c.status
        where.append(
            column.in_(pending) if q.status.lower() == "queued" else column.not_in(pending)
        )
    if q.statuses:
        where.append(messages.c.status.in_([s.value for s in q.statuses]))
    if q.template_id is not None:
        where.append(messages.c.template_id == q.template_id)
    if q.since:
        where.append(messages.c.accepted_at >= q.since)
    if q.until:
        where.append(messages.c.accepted_at <= q.until)
    if q.subject:
        where.append(sa.func.lower(messages.c.subject).like(f"%{q.subject.lower()}%"))
    if q.stream:
        where.append(messages.c.stream == q.stream)
    for key, value in q.metadata.items():
        # Both dialects render JSON text as {"key": "value"}: a prefilter exact enough here.
        where.append(_json_text(messages.c.metadata).like(f'%"{key.lower()}": "{value.lower()}"%'))
    return where


async def search_messages(
    tx: Tx, server_id: int, query: MessageQuery, *, limit: int, offset: int
) -> tuple[int, list[StoredMessage]]:
    where = _where(server_id, query)
    total = await tx.execute(sa.select(sa.func.count()).select_from(messages).where(*where))
    rows = await tx.execute(
        sa.select(messages)
        .where(*where)
        .order_by(messages.c.accepted_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_stored(row) for row in rows]


@dataclass(frozen=True, slots=True)
class StatsQuery:
    tag: str | None = None
    stream: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def event_days(
    tx: Tx, server_id: int, q: StatsQuery, types: list[EventType]
) -> list[tuple[str, str, str, str]]:
    """(day, type, recipient, message id) of matching events: counted in Python, because
    day truncation differs by dialect and these reports cover bounded date ranges."""
    where: list[Any] = [
        message_events.c.server_id == server_id,
        message_events.c.type.in_([t.value for t in types]),
    ]
    if q.since:
        where.append(message_events.c.created_at >= q.since)
    if q.until:
        where.append(message_events.c.created_at <= q.until)
    query = sa.select(
        message_events.c.created_at,
        message_events.c.type,
        message_events.c.recipient,
        message_events.c.message_id,
        message_events.c.details,
    )
    if q.tag or q.stream:
        query = query.join(messages, messages.c.id == message_events.c.message_id)
        if q.tag:
            where.append(messages.c.tag == q.tag)
        if q.stream:
            where.append(messages.c.stream == q.stream)
    rows = await tx.execute(query.where(*where))
    return [(r.created_at.date().isoformat(), r.type, r.recipient, r.message_id) for r in rows]


async def event_details(
    tx: Tx, server_id: int, q: StatsQuery, event_type: EventType, key: str
) -> Counter[str]:
    """How often each value of one detail (platform, client...) occurs among the events."""
    where: list[Any] = [
        message_events.c.server_id == server_id,
        message_events.c.type == event_type.value,
    ]
    if q.since:
        where.append(message_events.c.created_at >= q.since)
    if q.until:
        where.append(message_events.c.created_at <= q.until)
    rows = await tx.execute(sa.select(message_events.c.details).where(*where))
    return Counter(str(row.details.get(key) or "Unknown") for row in rows)
