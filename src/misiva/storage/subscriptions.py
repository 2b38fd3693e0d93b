"""Subscriptions per address and stream, and the append-only consent records that prove them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.subscriptions import (
    ConsentAction,
    ConsentRecord,
    Subscription,
    SubscriptionStatus,
)
from misiva.storage.engine import Tx
from misiva.storage.tables import consent_records, subscriptions

# Consent records of a request that was never confirmed: purged with the request.
_UNCONFIRMED = (ConsentAction.REQUESTED.value, ConsentAction.CONFIRMATION_SENT.value)


def _subscription(row: Any) -> Subscription:
    return Subscription(
        server_id=row.server_id,
        stream=row.stream,
        email=row.email,
        status=SubscriptionStatus(row.status),
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        requested_at=row.requested_at,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
        expires_at=row.expires_at,
        confirmation_message_id=row.confirmation_message_id,
    )


def _key(server_id: int, stream: str, email: str) -> list[sa.ColumnElement[bool]]:
    return [
        subscriptions.c.server_id == server_id,
        subscriptions.c.stream == stream,
        subscriptions.c.email == email.lower(),
    ]


async def get_subscription(tx: Tx, server_id: int, stream: str, email: str) -> Subscription | None:
    row = (
        await tx.execute(sa.select(subscriptions).where(*_key(server_id, stream, email)))
    ).one_or_none()
    return _subscription(row) if row else None


async def save_subscription(tx: Tx, subscription: Subscription) -> None:
    """Insert the row, or replace the one with its key."""
    values = asdict(subscription)
    values["email"] = subscription.email.lower()
    values["status"] = subscription.status.value
    key = _key(subscription.server_id, subscription.stream, subscription.email)
    updated = await tx.execute(sa.update(subscriptions).where(*key).values(**values))
    if updated.rowcount == 0:
        await tx.execute(sa.insert(subscriptions).values(**values))


async def list_for_address(tx: Tx, server_id: int, email: str) -> list[Subscription]:
    rows = await tx.execute(
        sa.select(subscriptions)
        .where(subscriptions.c.server_id == server_id, subscriptions.c.email == email.lower())
        .order_by(subscriptions.c.stream)
    )
    return [_subscription(row) for row in rows]


async def list_for_stream(
    tx: Tx,
    server_id: int,
    stream: str,
    *,
    status: SubscriptionStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Subscription]]:
    where = [subscriptions.c.server_id == server_id, subscriptions.c.stream == stream]
    if status is not None:
        where.append(subscriptions.c.status == status.value)
    total = await tx.execute(sa.select(sa.func.count()).select_from(subscriptions).where(*where))
    rows = await tx.execute(
        sa.select(subscriptions)
        .where(*where)
        .order_by(subscriptions.c.email)
        .limit(limit)
        .offset(offset)
    )
    return total.scalar_one(), [_subscription(row) for row in rows]


async def confirmed_among(tx: Tx, server_id: int, stream: str, emails: list[str]) -> set[str]:
    """Which of these addresses hold a confirmed subscription to the stream (one query)."""
    if not emails:
        return set()
    rows = await tx.execute(
        sa.select(subscriptions.c.email).where(
            subscriptions.c.server_id == server_id,
            subscriptions.c.stream == stream,
            subscriptions.c.status == SubscriptionStatus.CONFIRMED.value,
            subscriptions.c.email.in_(sorted({e.lower() for e in emails})),
        )
    )
    return {row.email for row in rows}


async def insert_consent(tx: Tx, record: ConsentRecord) -> None:
    values = asdict(record)
    del values["id"]
    values["email"] = record.email.lower()
    values["action"] = record.action.value
    await tx.execute(sa.insert(consent_records).values(**values))


async def list_consent(tx: Tx, server_id: int, email: str) -> list[ConsentRecord]:
    rows = await tx.execute(
        sa.select(consent_records)
        .where(consent_records.c.server_id == server_id, consent_records.c.email == email.lower())
        .order_by(consent_records.c.id)
    )
    return [
        ConsentRecord(
            id=row.id,
            server_id=row.server_id,
            stream=row.stream,
            email=row.email,
            action=ConsentAction(row.action),
            at=row.at,
            ip=row.ip,
            user_agent=row.user_agent,
            source=row.source,
            message_id=row.message_id,
            template_id=row.template_id,
            template_version=row.template_version,
            evidence=row.evidence,
        )
        for row in rows
    ]


async def purge_expired(tx: Tx, now: datetime, limit: int) -> int:
    """Delete up to `limit` pending requests past their deadline, with the consent records
    of the unconfirmed request: nothing is kept of a person who never said yes."""
    rows = (
        await tx.execute(
            sa.select(subscriptions)
            .where(
                subscriptions.c.status == SubscriptionStatus.PENDING.value,
                subscriptions.c.expires_at < now,
            )
            .order_by(subscriptions.c.expires_at)
            .limit(limit)
        )
    ).all()
    for row in rows:
        await tx.execute(
            sa.delete(consent_records).where(
                consent_records.c.server_id == row.server_id,
                consent_records.c.stream == row.stream,
                consent_records.c.email == row.email,
                consent_records.c.action.in_(_UNCONFIRMED),
                consent_records.c.at >= row.requested_at,
            )
        )
        await tx.execute(
            sa.delete(subscriptions).where(*_key(row.server_id, row.stream, row.email))
        )
    return len(rows)


async def delete_for_address(tx: Tx, server_id: int, email: str) -> None:
    """Erasure (GDPR): the address's subscriptions and consent records go with its contact."""
    await tx.execute(
        sa.delete(consent_records).where(
            consent_records.c.server_id == server_id, consent_records.c.email == email.lower()
        )
    )
    await tx.execute(
        sa.delete(subscriptions).where(
            subscriptions.c.server_id == server_id, subscriptions.c.email == email.lower()
        )
    )
