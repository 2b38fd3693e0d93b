"""The capture inbox: final signed messages kept instead of sent (route target `capture`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from misiva.domain.records import CapturedMessage
from misiva.storage.engine import Tx
from misiva.storage.tables import captured_messages, messages


async def insert_captured(tx: Tx, batch: list[CapturedMessage]) -> None:
    if not batch:
        return
    await tx.execute(
        sa.insert(captured_messages),
        [
            {
                "message_id": c.message_id,
                "server_id": c.server_id,
                "envelope_from": c.envelope_from,
                "recipients": c.recipients,
                "mime": c.mime,
                "created_at": c.created_at,
            }
            for c in batch
        ],
    )


def _captured(row: Any) -> CapturedMessage:
    return CapturedMessage(
        id=row.id,
        message_id=row.message_id,
        server_id=row.server_id,
        envelope_from=row.envelope_from,
        recipients=list(row.recipients),
        mime=row.mime,
        created_at=row.created_at,
    )


async def list_captured(
    tx: Tx, *, server_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[CapturedMessage]]:
    """Newest first, with the total count, optionally for one server."""
    where = [] if server_id is None else [captured_messages.c.server_id == server_id]
    total = await tx.execute(
        sa.select(sa.func.count()).select_from(captured_messages).where(*where)
    )
    rows = await tx.execute(
        sa.select(captured_messages)
        .where(*where)
        .order_by(captured_messages.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_captured(row) for row in rows]


async def get_captured_for_message(
    tx: Tx, message_id: str, server_id: int | None = None
) -> list[CapturedMessage]:
    query = sa.select(captured_messages).where(captured_messages.c.message_id == message_id)
    if server_id is not None:
        query = query.where(captured_messages.c.server_id == server_id)
    return [_captured(row) for row in await tx.execute(query.order_by(captured_messages.c.id))]


def _with_subject() -> sa.Select[Any]:
    # The subject is the message's: a captured copy keeps only its MIME. An outer join, because
    # retention may delete a message before its captured copy.
    return sa.select(
        captured_messages, sa.func.coalesce(messages.c.subject, "").label("subject")
    ).outerjoin(messages, messages.c.id == captured_messages.c.message_id)


async def search_captured(
    tx: Tx,
    server_id: int,
    *,
    recipient: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[tuple[CapturedMessage, str]]]:
    """A server's captured messages with their subjects, newest first, and how many match."""
    where: list[Any] = [captured_messages.c.server_id == server_id]
    if recipient:
        text = sa.func.lower(sa.cast(captured_messages.c.recipients, sa.Text))
        where.append(text.like(f"%{_escaped(recipient.lower())}%", escape="\\"))
    if subject:
        wanted = f"%{_escaped(subject.lower())}%"
        where.append(sa.func.lower(messages.c.subject).like(wanted, escape="\\"))
    count = sa.select(sa.func.count()).select_from(
        captured_messages.outerjoin(messages, messages.c.id == captured_messages.c.message_id)
    )
    total = await tx.execute(count.where(*where))
    rows = await tx.execute(
        _with_subject()
        .where(*where)
        .order_by(captured_messages.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [(_captured(row), row.subject) for row in rows]


async def get_captured(
    tx: Tx, server_id: int, captured_id: int
) -> tuple[CapturedMessage, str] | None:
    """One captured message of a server, with its subject."""
    row = (
        await tx.execute(
            _with_subject().where(
                captured_messages.c.id == captured_id, captured_messages.c.server_id == server_id
            )
        )
    ).one_or_none()
    return (_captured(row), row.subject) if row else None


def _escaped(text: str) -> str:
    """Typed text matched literally: % and _ are LIKE's wildcards, not the person's."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
