"""Scheduled messages: store one, cancel what waits, and what the triggers' caps and dedupe
windows count. (The releaser's claim and release live here too.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.automation import ScheduledMessage, ScheduledStatus
from misiva.storage.engine import Tx
from misiva.storage.tables import messages
from misiva.storage.tables_automation import scheduled_messages, triggers

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
    """Cancel those still waiting (one being released is not: it has left); returns them.

    Being released: leased by a releaser that is still within its lease, or already
    accepted as a message (a releaser that died between the accept and marking it sent)."""
    if not ids:
        return []
    result = await tx.execute(
        sa.update(_s)
        .where(
            _s.c.server_id == server_id,
            _s.c.id.in_(sorted(ids)),
            _s.c.status == _WAITING,
            sa.or_(_s.c.leased_by.is_(None), _s.c.lease_until <= now),
            ~sa.exists().where(messages.c.id == _s.c.id),
        )
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


# --- The releaser's side: claim what is due under a lease, then record how it went. -------

# Rendered into the SQL as a literal, `status = 'scheduled'`, not a bound parameter: SQLite
# uses the partial index ix_scheduled_due only when the query's WHERE implies the index's,
# which it cannot see through `status = ?` (as for the queue's claim, queue.py).
_DUE = sa.literal(_WAITING, type_=_s.c.status.type, literal_execute=True)


async def claim_due(
    tx: Tx, *, releaser: str, now: datetime, lease_until: datetime, limit: int
) -> list[ScheduledMessage]:
    """Lease up to `limit` waiting messages whose time has come to one releaser, soonest
    first; one whose lease ran out (its releaser died) is due again.

    On PostgreSQL, SKIP LOCKED lets several processes claim at once without waiting on each
    other or taking the same row; SQLite has one writer at a time, so the IMMEDIATE
    transaction already serialises claims."""
    due = (
        sa.select(_s.c.id)
        .where(
            _s.c.status == _DUE,
            _s.c.send_at <= now,
            sa.or_(_s.c.lease_until.is_(None), _s.c.lease_until <= now),
        )
        .order_by(_s.c.send_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await tx.execute(
        sa.update(_s)
        .where(_s.c.id.in_(due.scalar_subquery()))
        .values(leased_by=releaser, lease_until=lease_until, attempts=_s.c.attempts + 1)
        .returning(*_s.c)
    )
    return sorted((scheduled(row) for row in result), key=lambda m: (m.send_at, m.id))


async def next_claimable_at(tx: Tx) -> datetime | None:
    """When the soonest waiting message that no releaser holds falls due (an idle releaser
    sleeps until then); leased ones come back through the poll when their lease ends."""
    query = sa.select(sa.func.min(_s.c.send_at)).where(
        _s.c.status == _DUE, _s.c.lease_until.is_(None)
    )
    value: datetime | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def accepted_among(tx: Tx, ids: Sequence[str]) -> set[str]:
    """Which of these ids are already messages: released before, by a releaser that died
    before it could mark them sent."""
    if not ids:
        return set()
    query = sa.select(messages.c.id).where(messages.c.id.in_(sorted(ids)))
    return set((await tx.execute(query)).scalars())


async def mark_sent(tx: Tx, ids: Sequence[str], now: datetime) -> None:
    """Released and accepted: each id is now a message's. Whatever the row said before (a
    cancel cannot land while it is leased), the message exists, so the row says sent."""
    if not ids:
        return
    await tx.execute(
        sa.update(_s)
        .where(_s.c.id.in_(sorted(ids)))
        .values(
            status=ScheduledStatus.SENT.value,
            leased_by=None,
            lease_until=None,
            error=None,
            updated_at=now,
        )
    )


async def mark_failed(tx: Tx, failures: Sequence[tuple[str, str]], now: datetime) -> None:
    """Released and refused, with why (a missing variable, an inactive recipient...)."""
    if not failures:
        return
    await tx.execute(
        sa.update(_s)
        .where(_s.c.id == sa.bindparam("b_id"))
        .values(
            status=ScheduledStatus.FAILED.value,
            leased_by=None,
            lease_until=None,
            error=sa.bindparam("b_error"),
            updated_at=now,
        ),
        [{"b_id": id_, "b_error": error} for id_, error in failures],
    )


async def retry_later(tx: Tx, ids: Sequence[str], at: datetime) -> None:
    """A release that could not be tried (the database failed): claimable again at `at`,
    and cancellable meanwhile (no releaser holds it)."""
    if not ids:
        return
    await tx.execute(
        sa.update(_s)
        .where(_s.c.id.in_(sorted(ids)), _s.c.status == _WAITING)
        .values(leased_by=None, lease_until=at)
    )


# --- Lists for the API, the UI and the CLI. ------------------------------------------------


def _filters(
    server_id: int, status: ScheduledStatus | None, email: str | None, trigger: str | None
) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = [_s.c.server_id == server_id]
    if status is not None:
        found.append(_s.c.status == status.value)
    if email:
        found.append(_s.c.email == email.strip().lower())
    if trigger:
        # A trigger named by its key, or by its id.
        named = triggers.c.key == trigger
        # ASCII and short, like a template id (storage/templates.py): "²" or 20 digits was a 500.
        if trigger.isascii() and trigger.isdigit() and len(trigger) <= 9:
            named = sa.or_(named, triggers.c.id == int(trigger))
        found.append(
            _s.c.trigger_id.in_(
                sa.select(triggers.c.id).where(triggers.c.server_id == server_id, named)
            )
        )
    return found


async def list_scheduled(
    tx: Tx,
    server_id: int,
    *,
    status: ScheduledStatus | None = None,
    email: str | None = None,
    trigger: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ScheduledMessage]:
    """A server's scheduled messages, soonest first (what leaves next on top)."""
    query = (
        sa.select(_s)
        .where(*_filters(server_id, status, email, trigger))
        .order_by(_s.c.send_at, _s.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [scheduled(row) for row in await tx.execute(query)]


async def count_scheduled(
    tx: Tx,
    server_id: int,
    *,
    status: ScheduledStatus | None = None,
    email: str | None = None,
    trigger: str | None = None,
) -> int:
    query = sa.select(sa.func.count()).where(*_filters(server_id, status, email, trigger))
    return int((await tx.execute(query)).scalar() or 0)
