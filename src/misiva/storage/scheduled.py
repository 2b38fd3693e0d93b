"""Scheduled messages: store one, cancel what waits, and what the triggers' caps and dedupe
windows count. (The releaser's claim and release live here too.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.automation import ScheduledMessage, ScheduledStatus
from misiva.storage.engine import Tx
from misiva.storage.tables_automation import scheduled_messages

_s = scheduled_messages
_WAITING = ScheduledStatus.SCHEDULED.value


def scheduled(row: Any) -> ScheduledMessage:
    return ScheduledMessage(
        id=row.id,
        server_id=row.server_id,
        email=row.email,
        stream=row.stream,
        send_at=row.send_at,
        status=ScheduledStatus(row.status),
        fields=dict(row.fields),
        trigger_id=row.trigger_id,
        trigger_version=row.trigger_version,
        app_event_id=row.app_event_id,
        attempts=int(row.attempts),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def insert_scheduled(
    tx: Tx,
    *,
    message_id: str,
    server_id: int,
    email: str,
    stream: str,
    send_at: datetime,
    fields: dict[str, Any],
    now: datetime,
    trigger_id: int | None = None,
    trigger_version: int | None = None,
    app_event_id: int | None = None,
) -> ScheduledMessage:
    row = (
        await tx.execute(
            sa.insert(_s)
            .values(
                id=message_id,
                server_id=server_id,
                email=email.lower(),
                stream=stream,
                send_at=send_at,
                status=_WAITING,
                fields=fields,
                trigger_id=trigger_id,
                trigger_version=trigger_version,
                app_event_id=app_event_id,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            .returning(*_s.c)
        )
    ).one()
    return scheduled(row)


async def get_scheduled(tx: Tx, server_id: int, message_id: str) -> ScheduledMessage | None:
    query = sa.select(_s).where(_s.c.server_id == server_id, _s.c.id == message_id.lower())
    row = (await tx.execute(query)).first()
    return scheduled(row) if row is not None else None


async def cancel(
    tx: Tx, server_id: int, ids: Sequence[str], reason: str, now: datetime
) -> list[str]:
    """Cancel those still waiting (one being released is not: it has left); returns them."""
    if not ids:
        return []
    result = await tx.execute(
        sa.update(_s)
        .where(_s.c.server_id == server_id, _s.c.id.in_(sorted(ids)), _s.c.status == _WAITING)
        .values(status=ScheduledStatus.CANCELLED.value, error=reason, updated_at=now)
        .returning(_s.c.id)
    )
    return list(result.scalars())


async def waiting_for_contact(
    tx: Tx, server_id: int, email: str, trigger_ids: Sequence[int]
) -> list[ScheduledMessage]:
    """What still waits for a contact from these triggers (what a cancelling event cancels)."""
    if not trigger_ids:
        return []
    query = sa.select(_s).where(
        _s.c.server_id == server_id,
        _s.c.email == email.lower(),
        _s.c.trigger_id.in_(sorted(set(trigger_ids))),
        _s.c.status == _WAITING,
    )
    return [scheduled(row) for row in await tx.execute(query)]


async def fired_since(tx: Tx, trigger_id: int, email: str, since: datetime) -> int:
    """How many messages the trigger scheduled for the contact since `since`, cancelled ones
    aside (what its frequency cap and dedupe window count)."""
    query = sa.select(sa.func.count()).where(
        _s.c.trigger_id == trigger_id,
        _s.c.email == email.lower(),
        _s.c.created_at >= since,
        _s.c.status != ScheduledStatus.CANCELLED.value,
    )
    return int((await tx.execute(query)).scalar() or 0)


async def for_event(tx: Tx, app_event_id: int) -> list[ScheduledMessage]:
    query = sa.select(_s).where(_s.c.app_event_id == app_event_id).order_by(_s.c.send_at)
    return [scheduled(row) for row in await tx.execute(query)]
