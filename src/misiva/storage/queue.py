"""The queue side of the messages table: claim due messages under a lease, record attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.delivery import AttemptResult, ClaimedMessage, Priority
from misiva.domain.enums import MessageStatus
from misiva.storage.engine import Tx
from misiva.storage.tables import messages

# Rendered into the SQL as literals, `status IN ('queued', 'deferred')`, not as bound
# parameters: SQLite uses the partial index ix_messages_due only when the query's WHERE
# implies the index's, and it never sees that `status IN (?, ?)` does, so the claim and
# next_due_at would scan every message ever sent. The list must stay the index's condition
# (tables.py). The values never change, so the SQL text is the same on every run and
# PostgreSQL's prepared statements are still reused.
_CLAIMABLE = sa.bindparam(
    "claimable",
    [MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value],
    type_=messages.c.status.type,
    expanding=True,
    literal_execute=True,
)


async def claim_due(
    tx: Tx, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedMessage]:
    """Lease up to `limit` due messages to one worker: transactional ones first, then
    commercial ones, each oldest due first.

    One query per priority, the next only when the first left room: each is a range scan of
    ix_messages_due (priority, next_attempt_at), where one ORDER BY priority, next_attempt_at
    would walk every not-yet-due transactional row before reaching a due commercial one. On
    PostgreSQL, SKIP LOCKED lets many workers claim at once without waiting on each other or
    taking the same row; SQLite has one writer at a time, so the IMMEDIATE transaction
    already serialises claims. The lease is next_attempt_at itself: if the worker dies, the
    message is due again when the lease ends.
    """
    claimed: list[ClaimedMessage] = []
    for priority in Priority:
        if len(claimed) >= limit:
            break
        claimed += await _claim_priority(
            tx, priority, worker_id, now, lease_until, limit - len(claimed)
        )
    return claimed


async def _claim_priority(
    tx: Tx, priority: Priority, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedMessage]:
    due = (
        sa.select(messages.c.id)
        .where(
            messages.c.status.in_(_CLAIMABLE),
            messages.c.priority == int(priority),
            messages.c.next_attempt_at <= now,
        )
        .order_by(messages.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await tx.execute(
        sa.update(messages)
        .where(messages.c.id.in_(due.scalar_subquery()))
        .values(
            next_attempt_at=lease_until,
            leased_by=worker_id,
            attempts=messages.c.attempts + 1,
        )
        .returning(
            messages.c.id,
            messages.c.server_id,
            messages.c.domain_id,
            messages.c.envelope_from,
            messages.c.rcpt_state,
            messages.c.mime,
            messages.c.attempts,
            messages.c.accepted_at,
        )
    )
    return [_claimed(row) for row in result]


def _claimed(row: Any) -> ClaimedMessage:
    return ClaimedMessage(
        id=row.id,
        server_id=row.server_id,
        domain_id=row.domain_id,
        envelope_from=row.envelope_from,
        rcpt_state=dict(row.rcpt_state),
        mime=row.mime,
        attempts=row.attempts,
        accepted_at=row.accepted_at,
    )


async def record_attempts(tx: Tx, results: list[AttemptResult]) -> None:
    """Write the outcome of many attempts in one executemany round trip; an attempt that
    sent nothing (every recipient held back) gives back the attempt its claim counted."""
    if not results:
        return
    statement = (
        sa.update(messages)
        .where(messages.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            rcpt_state=sa.bindparam("b_rcpt_state", type_=messages.c.rcpt_state.type),
            next_attempt_at=sa.bindparam("b_next"),
            updated_at=sa.bindparam("b_updated"),
            attempts=messages.c.attempts - sa.bindparam("b_uncounted", type_=sa.Integer),
            leased_by=None,
        )
    )
    await tx.execute(
        statement,
        [
            {
                "b_id": r.message_id,
                "b_status": r.status.value,
                "b_rcpt_state": r.rcpt_state,
                "b_next": r.next_attempt_at,
                "b_updated": r.updated_at,
                "b_uncounted": 0 if r.attempted else 1,
            }
            for r in results
        ],
    )


async def make_waiting_due(tx: Tx, now: datetime) -> int:
    """Every message waiting for a retry is due `now`; how many. For after the wall clock
    stepped back, when their times were set by the old clock. Leased rows keep their lease:
    they are in flight, and their outcome sets a new time from the corrected clock."""
    result = await tx.execute(
        sa.update(messages)
        .where(
            messages.c.status.in_(_CLAIMABLE),
            messages.c.leased_by.is_(None),
            messages.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)


async def extend_leases(tx: Tx, worker_id: str, lease_until: datetime) -> int:
    """A worker's leases all end at `lease_until`; how many. For after the wall clock stepped
    forward past them while the mail was still in flight. Rare, so a scan of the queue's
    claimable rows rather than an index on leased_by that every claim would have to update."""
    result = await tx.execute(
        sa.update(messages)
        .where(messages.c.status.in_(_CLAIMABLE), messages.c.leased_by == worker_id)
        .values(next_attempt_at=lease_until)
    )
    return int(result.rowcount or 0)


async def next_due_at(tx: Tx) -> datetime | None:
    """When the earliest claimable message falls due (lets an idle worker sleep exactly)."""
    found: list[datetime] = []
    for priority in Priority:
        # One min() per priority: each is the first entry of its range of ix_messages_due.
        result = await tx.execute(
            sa.select(sa.func.min(messages.c.next_attempt_at)).where(
                messages.c.status.in_(_CLAIMABLE), messages.c.priority == int(priority)
            )
        )
        # min() keeps its argument's type, so the value comes back UTC-aware.
        value: datetime | None = result.scalar_one_or_none()
        if value is not None:
            found.append(value)
    return min(found, default=None)
