"""Suppressed addresses per server and stream: who must not be mailed on that stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.records import Suppression
from misiva.storage.engine import Tx
from misiva.storage.tables import suppressions


def _suppression(row: Any) -> Suppression:
    return Suppression(
        server_id=row.server_id,
        stream=row.stream,
        email=row.email,
        reason=row.reason,
        origin=row.origin,
        created_at=row.created_at,
    )


async def suppress(
    tx: Tx, server_id: int, stream: str, email: str, reason: str, origin: str, now: datetime
) -> bool:
    """Add the address unless it is already suppressed on the stream; True if it was added."""
    exists = await tx.execute(
        sa.select(suppressions.c.email).where(
            suppressions.c.server_id == server_id,
            suppressions.c.stream == stream,
            suppressions.c.email == email.lower(),
        )
    )
    if exists.first() is not None:
        return False
    await tx.execute(
        sa.insert(suppressions).values(
            server_id=server_id,
            stream=stream,
            email=email.lower(),
            reason=reason,
            origin=origin,
            created_at=now,
        )
    )
    return True


async def unsuppress(tx: Tx, server_id: int, stream: str, email: str) -> Suppression | None:
    """Remove the address from the stream's list; returns what was removed."""
    found = await tx.execute(
        sa.select(suppressions).where(
            suppressions.c.server_id == server_id,
            suppressions.c.stream == stream,
            suppressions.c.email == email.lower(),
        )
    )
    row = found.one_or_none()
    if row is None:
        return None
    await tx.execute(
        sa.delete(suppressions).where(
            suppressions.c.server_id == server_id,
            suppressions.c.stream == stream,
            suppressions.c.email == email.lower(),
        )
    )
    return _suppression(row)


async def suppressed_among(
    tx: Tx, server_id: int, stream: str, emails: list[str]
) -> dict[str, str]:
    """Which of these addresses are suppressed on the stream, with the reason (one query)."""
    if not emails:
        return {}
    rows = await tx.execute(
        sa.select(suppressions.c.email, suppressions.c.reason).where(
            suppressions.c.server_id == server_id,
            suppressions.c.stream == stream,
            suppressions.c.email.in_(sorted({e.lower() for e in emails})),
        )
    )
    return {row.email: row.reason for row in rows}


async def streams_suppressing(tx: Tx, server_id: int, email: str) -> dict[str, str]:
    """The streams on which the address is suppressed, with the reason (one query)."""
    rows = await tx.execute(
        sa.select(suppressions.c.stream, suppressions.c.reason).where(
            suppressions.c.server_id == server_id, suppressions.c.email == email.lower()
        )
    )
    return {row.stream: row.reason for row in rows}


async def dump(
    tx: Tx,
    server_id: int,
    stream: str,
    *,
    reason: str | None = None,
    origin: str | None = None,
    email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Suppression]:
    where = [suppressions.c.server_id == server_id, suppressions.c.stream == stream]
    if reason:
        where.append(suppressions.c.reason == reason)
    if origin:
        where.append(suppressions.c.origin == origin)
    if email:
        where.append(suppressions.c.email == email.lower())
    if since:
        where.append(suppressions.c.created_at >= since)
    if until:
        where.append(suppressions.c.created_at <= until)
    rows = await tx.execute(
        sa.select(suppressions).where(*where).order_by(suppressions.c.created_at)
    )
    return [_suppression(row) for row in rows]


async def search(
    tx: Tx, server_id: int, stream: str, query: str | None, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[Suppression]]:
    """A stream's suppressions whose address contains `query`, newest first, and how many."""
    where = [suppressions.c.server_id == server_id, suppressions.c.stream == stream]
    if query:
        where.append(suppressions.c.email.like(f"%{_escape_like(query.lower())}%", escape="\\"))
    total = await tx.execute(sa.select(sa.func.count()).select_from(suppressions).where(*where))
    rows = await tx.execute(
        sa.select(suppressions)
        .where(*where)
        .order_by(suppressions.c.created_at.desc(), suppressions.c.email)
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_suppression(row) for row in rows]


def _escape_like(text: str) -> str:
    """A typed `%` or `_` is a character to find, not a wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
