"""Messages as stored: queueing new ones and reading them back for the activity log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from misiva.domain.delivery import RecipientState
from misiva.domain.enums import MessageStatus
from misiva.domain.records import NewMessage, StoredMessage
from misiva.storage.content_blocks import record_choices
from misiva.storage.engine import Tx
from misiva.storage.tables import messages


def _row_values(message: NewMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "server_id": message.server_id,
        "stream": message.stream,
        "domain_id": message.domain_id,
        "status": MessageStatus.QUEUED.value,
        "sender": message.sender,
        "envelope_from": message.envelope_from,
        "to_list": message.to,
        "cc_list": message.cc,
        "bcc_list": message.bcc,
        "rcpt_state": dict.fromkeys(message.recipients, RecipientState.PENDING.value),
        "subject": message.subject,
        "tag": message.tag,
        "metadata": message.metadata,
        "track_opens": message.track_opens,
        "track_links": message.track_links,
        "mime": message.mime,
        "template_id": message.template_id,
        "template_version": message.template_version,
        "locale": message.locale,
        "attempts": 0,
        "next_attempt_at": message.accepted_at,
        "leased_by": None,
        "accepted_at": message.accepted_at,
        "updated_at": message.accepted_at,
        "priority": message.priority,
    }


async def insert_messages(tx: Tx, batch: list[NewMessage]) -> None:
    """Queue a batch in one statement (one round trip however many messages)."""
    if batch:
        await tx.execute(sa.insert(messages), [_row_values(m) for m in batch])
    for m in batch:
        # In the same commit as the message: what the message got is never lost or invented.
        await record_choices(tx, m.server_id, m.id, m.content_blocks, m.accepted_at)


def _pairs(value: Any) -> list[tuple[str, str]]:
    return [(str(email), str(name)) for email, name in value]


def _stored(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        server_id=row.server_id,
        stream=row.stream,
        status=MessageStatus(row.status),
        sender=row.sender,
        to=_pairs(row.to_list),
        cc=_pairs(row.cc_list),
        bcc=_pairs(row.bcc_list),
        rcpt_state=dict(row.rcpt_state),
        subject=row.subject,
        tag=row.tag,
        metadata=dict(row.metadata),
        track_opens=row.track_opens,
        track_links=row.track_links,
        mime=row.mime,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        accepted_at=row.accepted_at,
        template_id=row.template_id,
        template_version=row.template_version,
        locale=row.locale,
    )


async def get_message(
    tx: Tx, message_id: str, server_id: int | None = None
) -> StoredMessage | None:
    """One message; scoped to a server when the caller is a tenant (API), not when it is the CLI."""
    query = sa.select(messages).where(messages.c.id == message_id.lower())
    if server_id is not None:
        query = query.where(messages.c.server_id == server_id)
    row = (await tx.execute(query)).one_or_none()
    return _stored(row) if row else None


async def count_by_status(tx: Tx, server_id: int | None = None) -> dict[MessageStatus, int]:
    query = sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
    if server_id is not None:
        query = query.where(messages.c.server_id == server_id)
    return {MessageStatus(status): count for status, count in await tx.execute(query)}


async def get_messages(tx: Tx, ids: list[str]) -> dict[str, StoredMessage]:
    """Many messages in one query (what events need to know of their messages)."""
    if not ids:
        return {}
    rows = await tx.execute(sa.select(messages).where(messages.c.id.in_(sorted(set(ids)))))
    return {row.id: _stored(row) for row in rows}
