"""Conversions: record one (idempotent by order id), list them, find the messages a recipient's
conversion could be credited to, and sum conversions per template and per block variant."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.conversions import Conversion, Touch, from_micros, to_micros
from misiva.domain.enums import EventType
from misiva.domain.records import StoredMessage
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events
from misiva.storage.tables_blocks import message_blocks
from misiva.storage.tables_conversions import conversions

_c = conversions
_e = message_events
# A recipient's touches are read newest first up to this many: enough for any real person's
# week of mail, and a bound on what a hot test address could cost.
_TOUCHES = 500


def _conversion(row: Any) -> Conversion:
    return Conversion(
        id=int(row.id),
        server_id=row.server_id,
        message_id=row.message_id,
        recipient=row.recipient,
        template_id=row.template_id,
        stream=row.stream,
        value=from_micros(int(row.value_micros)),
        currency=row.currency,
        order_id=row.order_id,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
    )


async def insert_conversion(
    tx: Tx,
    message: StoredMessage,
    recipient: str,
    *,
    value: Decimal,
    currency: str,
    order_id: str | None,
    occurred_at: datetime,
    now: datetime,
) -> tuple[Conversion, bool]:
    """The conversion, and whether it is new: an order id already recorded for the server
    gives back the first record untouched (a retried report counts once)."""
    row = {
        "server_id": message.server_id,
        "message_id": message.id,
        "recipient": recipient,
        "template_id": message.template_id,
        "stream": message.stream,
        "value_micros": to_micros(value),
        "currency": currency,
        "order_id": order_id,
        "occurred_at": occurred_at,
        "recorded_at": now,
    }
    insert = pg_insert(_c) if tx.dialect.name == "postgresql" else sqlite_insert(_c)
    statement = insert.values(row)
    if order_id is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["server_id", "order_id"])
    made = (await tx.execute(statement.returning(*_c.c))).first()
    if made is not None:
        return _conversion(made), True
    existing = await by_order(tx, message.server_id, order_id or "")
    assert existing is not None  # the conflict that skipped the insert is this row
    return existing, False


async def by_order(tx: Tx, server_id: int, order_id: str) -> Conversion | None:
    query = sa.select(_c).where(_c.c.server_id == server_id, _c.c.order_id == order_id)
    row = (await tx.execute(query)).first()
    return _conversion(row) if row is not None else None


async def list_conversions(
    tx: Tx, server_id: int, *, message_id: str | None, count: int, offset: int
) -> tuple[int, list[Conversion]]:
    """(total, one page newest first) of the server's conversions, or one message's."""
    where = [_c.c.server_id == server_id]
    if message_id is not None:
        where.append(_c.c.message_id == message_id.lower())
    total = (await tx.execute(sa.select(sa.func.count()).select_from(_c).where(*where))).scalar()
    query = sa.select(_c).where(*where).order_by(_c.c.occurred_at.desc(), _c.c.id.desc())
    rows = await tx.execute(query.limit(count).offset(offset))
    return int(total or 0), [_conversion(row) for row in rows]


async def touches(
    tx: Tx, server_id: int, recipient: str, since: datetime, until: datetime
) -> list[tuple[str, str]]:
    """(message id, event type) of the deliveries, opens and clicks of `recipient` in
    [since, until], newest first. Deliveries keep the address as it was sent to, so the
    lowercased address is compared (ix_message_events_recipient indexes it so)."""
    query = (
        sa.select(_e.c.message_id, _e.c.type)
        .where(
            _e.c.server_id == server_id,
            sa.func.lower(_e.c.recipient) == recipient.lower(),
            _e.c.type.in_(Touch.ORDER),
            _e.c.created_at >= since,
            _e.c.created_at <= until,
            _e.c.message_id.is_not(None),
        )
        .order_by(_e.c.created_at.desc(), _e.c.id.desc())
        .limit(_TOUCHES)
    )
    return [(r.message_id, r.type) for r in await tx.execute(query)]


async def by_template(
    tx: Tx, server_id: int, since: datetime
) -> dict[int | None, tuple[int, dict[str, int]]]:
    """Per template (None: messages sent without one): conversions since `since`, and their
    value in micros per currency."""
    query = (
        sa.select(_c.c.template_id, _c.c.currency, sa.func.count(), sa.func.sum(_c.c.value_micros))
        .where(_c.c.server_id == server_id, _c.c.occurred_at >= since)
        .group_by(_c.c.template_id, _c.c.currency)
    )
    found: dict[int | None, tuple[int, dict[str, int]]] = {}
    for template_id, currency, n, micros in await tx.execute(query):
        count, revenue = found.get(template_id, (0, {}))
        revenue[currency] = int(micros or 0)
        found[template_id] = (count + int(n), revenue)
    return found


async def block_funnel(
    tx: Tx, server_id: int, block_id: int
) -> dict[str, tuple[int, int, int, dict[str, int]]]:
    """Per variant of a block: (messages it went into, of those opened, conversions, value in
    micros per currency). Clicks are counted by the caller: only a click on the block's own
    links is the block's (storage.content_blocks.block_clicks)."""
    m = message_blocks
    mine = sa.and_(m.c.server_id == server_id, m.c.block_id == block_id)
    sends = sa.select(m.c.variant, sa.func.count()).where(mine).group_by(m.c.variant)
    opened = sa.exists().where(
        _e.c.message_id == m.c.message_id,
        _e.c.server_id == m.c.server_id,
        _e.c.type == EventType.OPENED.value,
    )
    opens = sa.select(m.c.variant, sa.func.count()).where(mine, opened).group_by(m.c.variant)
    converted = (
        sa.select(m.c.variant, _c.c.currency, sa.func.count(), sa.func.sum(_c.c.value_micros))
        .join(_c, sa.and_(_c.c.message_id == m.c.message_id, _c.c.server_id == m.c.server_id))
        .where(mine)
        .group_by(m.c.variant, _c.c.currency)
    )
    found: dict[str, tuple[int, int, int, dict[str, int]]] = {}
    for variant, n in await tx.execute(sends):
        found[variant] = (int(n), 0, 0, {})
    for variant, n in await tx.execute(opens):
        sent, _, conv, revenue = found.get(variant, (0, 0, 0, {}))
        found[variant] = (sent, int(n), conv, revenue)
    for variant, currency, n, micros in await tx.execute(converted):
        sent, opens_n, conv, revenue = found.get(variant, (0, 0, 0, {}))
        revenue[currency] = int(micros or 0)
        found[variant] = (sent, opens_n, conv + int(n), revenue)
    return found
