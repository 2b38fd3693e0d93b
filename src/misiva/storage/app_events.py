"""App events: store one once per event id (a repeated id gets the stored event back), read one,
list a server's, a contact's history, and record what each trigger did with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.automation import AppEvent, Outcome, RuleOutcome
from misiva.storage.engine import Tx
from misiva.storage.tables_automation import app_events

_e = app_events


def outcomes_to_json(outcomes: Sequence[RuleOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "trigger_id": o.trigger_id,
            "trigger_key": o.trigger_key,
            "version": o.version,
            "outcome": o.outcome.value,
            "reason": o.reason,
            "scheduled_id": o.scheduled_id,
            "send_at": o.send_at.isoformat() if o.send_at is not None else None,
        }
        for o in outcomes
    ]


def outcomes_from_json(stored: Any) -> tuple[RuleOutcome, ...]:
    if not isinstance(stored, list):
        return ()
    return tuple(
        RuleOutcome(
            trigger_id=int(o["trigger_id"]),
            trigger_key=str(o["trigger_key"]),
            version=int(o["version"]),
            outcome=Outcome(o["outcome"]),
            reason=str(o.get("reason") or ""),
            scheduled_id=o.get("scheduled_id"),
            send_at=datetime.fromisoformat(o["send_at"]) if o.get("send_at") else None,
        )
        for o in stored
    )


def _event(row: Any) -> AppEvent:
    return AppEvent(
        id=int(row.id),
        server_id=row.server_id,
        event_id=row.event_id,
        name=row.name,
        email=row.email,
        data=dict(row.data),
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        outcomes=outcomes_from_json(row.outcome),
    )


async def insert_event(
    tx: Tx,
    *,
    server_id: int,
    event_id: str,
    name: str,
    email: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> tuple[AppEvent, bool]:
    """The event, and whether it is new: an event id the server already has gives back the
    stored event untouched (a retried report is accepted once). On PostgreSQL a concurrent
    insert of the same id waits for the first to commit, then finds it."""
    row = {
        "server_id": server_id,
        "event_id": event_id,
        "name": name,
        "email": email.lower(),
        "data": data,
        "occurred_at": occurred_at,
        "received_at": now,
        "outcome": [],
    }
    insert = pg_insert(_e) if tx.dialect.name == "postgresql" else sqlite_insert(_e)
    statement = insert.values(row).on_conflict_do_nothing(index_elements=["server_id", "event_id"])
    made = (await tx.execute(statement.returning(*_e.c))).first()
    if made is not None:
        return _event(made), True
    existing = await get_event(tx, server_id, event_id)
    assert existing is not None  # the conflict that skipped the insert is this row
    return existing, False


async def get_event(tx: Tx, server_id: int, event_id: str) -> AppEvent | None:
    query = sa.select(_e).where(_e.c.server_id == server_id, _e.c.event_id == event_id)
    row = (await tx.execute(query)).first()
    return _event(row) if row is not None else None


async def get_event_by_id(tx: Tx, server_id: int, app_event_id: int) -> AppEvent | None:
    query = sa.select(_e).where(_e.c.server_id == server_id, _e.c.id == app_event_id)
    row = (await tx.execute(query)).first()
    return _event(row) if row is not None else None


async def set_outcome(tx: Tx, app_event_id: int, outcomes: Sequence[RuleOutcome]) -> None:
    await tx.execute(
        sa.update(_e).where(_e.c.id == app_event_id).values(outcome=outcomes_to_json(outcomes))
    )


async def list_events(
    tx: Tx,
    server_id: int,
    *,
    names: Sequence[str] = (),
    email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AppEvent]]:
    """A server's events that happened in [since, until), of these names and this contact,
    newest first, with how many there are in all."""
    where = [_e.c.server_id == server_id]
    if names:
        where.append(_e.c.name.in_(sorted(set(names))))
    if email:
        where.append(_e.c.email == email.lower())
    if since is not None:
        where.append(_e.c.occurred_at >= since)
    if until is not None:
        where.append(_e.c.occurred_at < until)
    total = await tx.execute(sa.select(sa.func.count()).select_from(_e).where(*where))
    rows = await tx.execute(
        sa.select(_e)
        .where(*where)
        .order_by(_e.c.occurred_at.desc(), _e.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total.scalar_one()), [_event(row) for row in rows]


async def contact_history(
    tx: Tx, server_id: int, email: str, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[AppEvent]]:
    """A contact's activity: the events reported about them, newest first."""
    return await list_events(tx, server_id, email=email, limit=limit, offset=offset)


async def lock_contacts(tx: Tx, server_id: int, emails: Sequence[str]) -> None:
    """Hold, until the transaction ends, each contact's lock for deciding caps and dedupe
    windows: two events of one person accepted at the same moment (a double click) are
    decided one after the other, so the second sees the first's message. Taken in sorted
    order, so two requests never wait on each other. SQLite has one writer at a time
    already; PostgreSQL takes transaction-scoped advisory locks."""
    if tx.dialect.name != "postgresql":
        return
    for email in sorted({e.lower() for e in emails}):
        key = f"misiva-contact:{server_id}:{email}"
        await tx.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))


async def recent_by_contact(
    tx: Tx,
    server_id: int,
    emails: Sequence[str],
    per_contact: int,
    *,
    until: datetime | None = None,
) -> dict[str, list[AppEvent]]:
    """Each contact's latest `per_contact` events (up to `until`, as they stood then), newest
    first, in one query (a window per contact over ix_app_events_contact)."""
    wanted = sorted({e.lower() for e in emails})
    if not wanted:
        return {}
    where = [_e.c.server_id == server_id, _e.c.email.in_(wanted)]
    if until is not None:
        where.append(_e.c.occurred_at <= until)
    rank = (
        sa.func.row_number()
        .over(partition_by=_e.c.email, order_by=(_e.c.occurred_at.desc(), _e.c.id.desc()))
        .label("rank")
    )
    ranked = sa.select(_e, rank).where(*where).subquery()
    query = (
        sa.select(ranked)
        .where(ranked.c.rank <= per_contact)
        .order_by(ranked.c.email, ranked.c.rank)
    )
    found: dict[str, list[AppEvent]] = {}
    for row in await tx.execute(query):
        found.setdefault(row.email, []).append(_event(row))
    return found
