"""Message streams of a server, with their tracking defaults, subscription settings and
commercial-content share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.enums import StreamType
from misiva.domain.records import Stream
from misiva.domain.subscriptions import SubscriptionSettings, UnsubscribeHandling
from misiva.storage.engine import Tx
from misiva.storage.tables import streams

# SubscriptionSettings field → column, one to one.
_SETTINGS = (
    "require_opt_in",
    "opt_in_template",
    "opt_in_ttl_hours",
    "welcome_template",
    "unsubscribe_template",
    "notice_from",
    "notice_stream",
)


def _stream(row: Any) -> Stream:
    return Stream(
        server_id=row.server_id,
        stream_id=row.stream_id,
        name=row.name,
        stream_type=StreamType(row.stream_type),
        track_opens=row.track_opens,
        track_links=row.track_links,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
        max_block_share=row.max_block_share,
        subscriptions=SubscriptionSettings(
            unsubscribe_handling=UnsubscribeHandling(row.unsubscribe_handling),
            **{name: getattr(row, name) for name in _SETTINGS},
        ),
    )


def _settings_values(settings: SubscriptionSettings) -> dict[str, Any]:
    return {
        "unsubscribe_handling": settings.unsubscribe_handling.value,
        **{name: getattr(settings, name) for name in _SETTINGS},
    }


async def insert_stream(
    tx: Tx,
    server_id: int,
    stream_id: str,
    name: str,
    stream_type: StreamType,
    now: datetime,
    *,
    description: str | None = None,
    settings: SubscriptionSettings | None = None,
    track_opens: bool = False,
    track_links: str = "None",
    max_block_share: int | None = None,
) -> Stream:
    result = await tx.execute(
        sa.insert(streams)
        .values(
            server_id=server_id,
            stream_id=stream_id,
            name=name,
            stream_type=stream_type.value,
            created_at=now,
            description=description,
            track_opens=track_opens,
            track_links=track_links,
            max_block_share=max_block_share,
            **_settings_values(settings or SubscriptionSettings()),
        )
        .returning(*streams.c)
    )
    return _stream(result.one())


async def list_streams(tx: Tx, server_id: int, *, archived: bool = True) -> list[Stream]:
    """A server's streams in creation order; `archived=False` leaves archived ones out."""
    query = sa.select(streams).where(streams.c.server_id == server_id)
    if not archived:
        query = query.where(streams.c.archived_at.is_(None))
    result = await tx.execute(query.order_by(streams.c.id))
    return [_stream(row) for row in result]


async def get_stream(tx: Tx, server_id: int, stream_id: str) -> Stream | None:
    result = await tx.execute(
        sa.select(streams).where(streams.c.server_id == server_id, streams.c.stream_id == stream_id)
    )
    row = result.one_or_none()
    return _stream(row) if row else None


async def update_stream(
    tx: Tx,
    server_id: int,
    stream_id: str,
    now: datetime,
    *,
    name: str | None = None,
    description: str | None = None,
    settings: SubscriptionSettings | None = None,
    archived_at: datetime | None = None,
    unarchive: bool = False,
    track_opens: bool | None = None,
    track_links: str | None = None,
    max_block_share: int | None = None,
    default_block_share: bool = False,
) -> None:
    """Change what is given; `description=""` clears it, `unarchive` clears archived_at,
    `default_block_share` clears max_block_share (back to the default)."""
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description or None
    if settings is not None:
        values.update(_settings_values(settings))
    if archived_at is not None:
        values["archived_at"] = archived_at
    if unarchive:
        values["archived_at"] = None
    if track_opens is not None:
        values["track_opens"] = track_opens
    if track_links is not None:
        values["track_links"] = track_links
    if max_block_share is not None:
        values["max_block_share"] = max_block_share
    if default_block_share:
        values["max_block_share"] = None
    await tx.execute(
        sa.update(streams)
        .where(streams.c.server_id == server_id, streams.c.stream_id == stream_id)
        .values(**values)
    )
