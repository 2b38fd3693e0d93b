"""Content blocks and the blocks each message got: create, read, change, delete, the running
blocks of a server's slots, and the per-message record clicks and results are attributed by."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.content_blocks import (
    BlockChoice,
    BlockContent,
    BlockVariant,
    ContentBlock,
    NewContentBlock,
)
from misiva.domain.enums import EventType
from misiva.storage.engine import Tx
from misiva.storage.tables import message_events
from misiva.storage.tables_blocks import content_blocks, message_blocks

_b = content_blocks


def _variants_json(variants: Sequence[BlockVariant]) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "split": v.split,
            "contents": {
                locale: {"html": c.html, "mjml": c.mjml} for locale, c in v.contents.items()
            },
        }
        for v in variants
    ]


def _variants(stored: list[dict[str, Any]]) -> tuple[BlockVariant, ...]:
    return tuple(
        BlockVariant(
            name=str(v["name"]),
            split=int(v["split"]),
            contents={
                locale: BlockContent(html=str(c["html"]), mjml=c.get("mjml"))
                for locale, c in v["contents"].items()
            },
        )
        for v in stored
    )


def _block(row: Any) -> ContentBlock:
    return ContentBlock(
        id=int(row.id),
        server_id=row.server_id,
        key=row.key,
        slot=row.slot,
        rule=row.rule,
        priority=int(row.priority),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        variants=_variants(row.variants),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create_block(tx: Tx, server_id: int, new: NewContentBlock, now: datetime) -> ContentBlock:
    row = (
        await tx.execute(
            sa.insert(_b)
            .values(
                server_id=server_id,
                key=new.key,
                slot=new.slot,
                rule=new.rule,
                priority=new.priority,
                starts_at=new.starts_at,
                ends_at=new.ends_at,
                variants=_variants_json(new.variants),
                created_at=now,
                updated_at=now,
            )
            .returning(*_b.c)
        )
    ).one()
    return _block(row)


async def key_taken(tx: Tx, server_id: int, key: str, *, other_than: int | None = None) -> bool:
    query = sa.select(_b.c.id).where(_b.c.server_id == server_id, _b.c.key == key)
    if other_than is not None:
        query = query.where(_b.c.id != other_than)
    return (await tx.execute(query.limit(1))).first() is not None


async def get_block(tx: Tx, server_id: int, block_id: int) -> ContentBlock | None:
    query = sa.select(_b).where(_b.c.server_id == server_id, _b.c.id == block_id)
    row = (await tx.execute(query)).first()
    return _block(row) if row is not None else None


async def list_blocks(tx: Tx, server_id: int, *, slot: str | None = None) -> list[ContentBlock]:
    query = sa.select(_b).where(_b.c.server_id == server_id)
    if slot is not None:
        query = query.where(_b.c.slot == slot)
    rows = await tx.execute(query.order_by(_b.c.slot, _b.c.priority.desc(), _b.c.id))
    return [_block(row) for row in rows]


async def update_block(
    tx: Tx, server_id: int, block_id: int, new: NewContentBlock, now: datetime
) -> ContentBlock | None:
    """Replace the block's fields whole (the door merges a PATCH onto the stored block)."""
    row = (
        await tx.execute(
            sa.update(_b)
            .where(_b.c.server_id == server_id, _b.c.id == block_id)
            .values(
                key=new.key,
                slot=new.slot,
                rule=new.rule,
                priority=new.priority,
                starts_at=new.starts_at,
                ends_at=new.ends_at,
                variants=_variants_json(new.variants),
                updated_at=now,
            )
            .returning(*_b.c)
        )
    ).first()
    return _block(row) if row is not None else None


async def delete_block(tx: Tx, server_id: int, block_id: int) -> bool:
    query = sa.delete(_b).where(_b.c.server_id == server_id, _b.c.id == block_id)
    result = await tx.execute(query.returning(_b.c.id))
    return result.first() is not None


async def unfinished_blocks(
    tx: Tx, server_id: int, slots: Collection[str], now: datetime
) -> list[ContentBlock]:
    """The blocks of these slots that have not ended by `now` (running or still to start: a
    cached list stays right when one starts), highest priority first."""
    if not slots:
        return []
    query = sa.select(_b).where(
        _b.c.server_id == server_id,
        _b.c.slot.in_(sorted(slots)),
        sa.or_(_b.c.ends_at.is_(None), _b.c.ends_at > now),
    )
    rows = await tx.execute(query.order_by(_b.c.priority.desc(), _b.c.id))
    return [_block(row) for row in rows]


async def record_choices(
    tx: Tx, server_id: int, message_id: str, choices: Sequence[BlockChoice], now: datetime
) -> None:
    """Which block and variant filled each slot of an accepted message."""
    if not choices:
        return
    await tx.execute(
        sa.insert(message_blocks),
        [
            {
                "server_id": server_id,
                "message_id": message_id,
                "slot": c.slot,
                "block_id": c.block_id,
                "variant": c.variant,
                "at": now,
            }
            for c in choices
        ],
    )


async def choices_for_message(tx: Tx, server_id: int, message_id: str) -> list[BlockChoice]:
    m = message_blocks
    query = (
        sa.select(m.c.slot, m.c.block_id, m.c.variant)
        .where(m.c.server_id == server_id, m.c.message_id == message_id)
        .order_by(m.c.slot)
    )
    return [BlockChoice(r.slot, int(r.block_id), r.variant) for r in await tx.execute(query)]


async def sends_by_variant(tx: Tx, server_id: int, block_id: int) -> dict[str, int]:
    """How many messages each variant of the block went into."""
    m = message_blocks
    query = (
        sa.select(m.c.variant, sa.func.count())
        .where(m.c.server_id == server_id, m.c.block_id == block_id)
        .group_by(m.c.variant)
    )
    return {r[0]: int(r[1]) for r in await tx.execute(query)}


async def block_clicks(tx: Tx, server_id: int, block_id: int) -> list[tuple[str, str, str]]:
    """(message id, variant, clicked link) of the clicks on messages the block went into; the
    caller keeps those whose link carries the block's marker (a click elsewhere in the
    message is the template's, not the block's)."""
    m, e = message_blocks, message_events
    query = (
        sa.select(m.c.message_id, m.c.variant, e.c.details)
        .join(e, sa.and_(e.c.message_id == m.c.message_id, e.c.server_id == m.c.server_id))
        .where(
            m.c.server_id == server_id,
            m.c.block_id == block_id,
            e.c.type == EventType.CLICKED.value,
        )
        .order_by(e.c.id)
    )
    return [
        (r.message_id, r.variant, str(r.details.get("original_link", "")))
        for r in await tx.execute(query)
    ]
