"""Bounce records: each hard, soft or transient failure, complaint and auto-reply, per recipient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.records import Bounce
from misiva.storage.engine import Tx
from misiva.storage.tables import bounces


@dataclass(frozen=True, slots=True)
class NewBounce:
    server_id: int
    message_id: str | None
    stream: str
    type: str
    email: str
    sender: str
    subject: str
    tag: str | None
    details: str
    inactive: bool
    can_activate: bool
    dump: bytes | None
    bounced_at: datetime


_LISTED = [c for c in bounces.c if c.name != "dump"]


def _bounce(row: Any) -> Bounce:
    return Bounce(
        id=row.id,
        server_id=row.server_id,
        message_id=row.message_id,
        stream=row.stream,
        type=row.type,
        email=row.email,
        sender=row.sender,
        subject=row.subject,
        tag=row.tag,
        details=row.details,
        inactive=row.inactive,
        can_activate=row.can_activate,
        dump_available=row.dump_available,
        bounced_at=row.bounced_at,
    )


async def insert_bounce(tx: Tx, bounce: NewBounce) -> int:
    result = await tx.execute(
        sa.insert(bounces)
        .values(
            server_id=bounce.server_id,
            message_id=bounce.message_id,
            stream=bounce.stream,
            type=bounce.type,
            email=bounce.email.lower(),
            sender=bounce.sender,
            subject=bounce.subject,
            tag=bounce.tag,
            details=bounce.details,
            inactive=bounce.inactive,
            can_activate=bounce.can_activate,
            dump=bounce.dump,
            bounced_at=bounce.bounced_at,
        )
        .returning(bounces.c.id)
    )
    return int(result.scalar_one())


def _select() -> sa.Select[Any]:
    return sa.select(*_LISTED, (bounces.c.dump.is_not(None)).label("dump_available"))


async def get_bounce(tx: Tx, server_id: int, bounce_id: int) -> Bounce | None:
    row = (
        await tx.execute(
            _select().where(bounces.c.server_id == server_id, bounces.c.id == bounce_id)
        )
    ).one_or_none()
    return _bounce(row) if row else None


async def get_dump(tx: Tx, server_id: int, bounce_id: int) -> bytes | None:
    result = await tx.execute(
        sa.select(bounces.c.dump).where(bounces.c.server_id == server_id, bounces.c.id == bounce_id)
    )
    value = result.scalar_one_or_none()
    return bytes(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class BounceQuery:
    type: str | None = None
    inactive: bool | None = None
    email_filter: str | None = None
    tag: str | None = None
    message_id: str | None = None
    stream: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_bounces(
    tx: Tx, server_id: int, query: BounceQuery, *, limit: int, offset: int
) -> tuple[int, list[Bounce]]:
    where: list[Any] = [bounces.c.server_id == server_id]
    if query.type:
        where.append(bounces.c.type == query.type)
    if query.inactive is not None:
        where.append(bounces.c.inactive == query.inactive)
    if query.email_filter:
        where.append(bounces.c.email.like(f"%{query.email_filter.lower()}%"))
    if query.tag:
        where.append(bounces.c.tag == query.tag)
    if query.message_id:
        where.append(bounces.c.message_id == query.message_id.lower())
    if query.stream:
        where.append(bounces.c.stream == query.stream)
    if query.since:
        where.append(bounces.c.bounced_at >= query.since)
    if query.until:
        where.append(bounces.c.bounced_at <= query.until)
    total = await tx.execute(sa.select(sa.func.count()).select_from(bounces).where(*where))
    rows = await tx.execute(
        _select()
        .where(*where)
        .order_by(bounces.c.bounced_at.desc(), bounces.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_bounce(row) for row in rows]


async def deactivate_for(tx: Tx, server_id: int, stream: str, email: str) -> None:
    """Reactivating an address (suppression deleted) makes its bounces active again."""
    await tx.execute(
        sa.update(bounces)
        .where(
            bounces.c.server_id == server_id,
            bounces.c.stream == stream,
            bounces.c.email == email.lower(),
        )
        .values(inactive=False)
    )


async def counts_by_type(tx: Tx, server_id: int) -> dict[str, int]:
    rows = await tx.execute(
        sa.select(bounces.c.type, sa.func.count())
        .where(bounces.c.server_id == server_id)
        .group_by(bounces.c.type)
    )
    return {kind: count for kind, count in rows}
