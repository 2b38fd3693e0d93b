"""Service first, at its worst: each slot a template places filled with the longest content
any block of that slot could put there (running or still to start; rules aside, since some
recipient may match them), so that publishing flags a template whose offers can outgrow the
stream's share of the message before any recipient gets one."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime

from misiva.domain.content_blocks import ContentBlock
from misiva.domain.templates import TemplateContent
from misiva.lint.html import read_html
from misiva.render.blocks import BlockFiller, Chosen, content_for
from misiva.storage import Database
from misiva.storage import content_blocks as block_store

# `block('literal')`, as the send path's static analysis finds slots (a computed name is
# not a slot the send path fills either).
_SLOT = re.compile(r"""\{\{-?\s*block\s*\(\s*['"]([A-Za-z0-9_.-]{1,100})['"]\s*\)""")


def placed_slots(content: TemplateContent) -> frozenset[str]:
    sources = (content.html_body or "", content.mjml_body or "", content.text_body or "")
    return frozenset(name for source in sources for name in _SLOT.findall(source))


def _widest(blocks: Collection[ContentBlock], slot: str, locale: str) -> Chosen | None:
    best: Chosen | None = None
    longest = -1
    for block in blocks:
        if block.slot != slot:
            continue
        for variant in block.variants:
            content = content_for(variant, locale)
            if content is None:
                continue
            size = len(read_html(content.html).text)
            if size > longest:
                best, longest = Chosen(block, variant.name, content), size
    return best


async def widest_filler(
    db: Database, server_id: int, slots: Collection[str], locale: str, now: datetime
) -> tuple[BlockFiller, Mapping[str, str]] | None:
    """A filler with each slot's longest block content for `locale`, and the chosen block's
    key per slot (for the finding's words); None when no block can fill any slot."""
    if not slots:
        return None
    async with db.reading() as tx:
        blocks = await block_store.unfinished_blocks(tx, server_id, slots, now)
    chosen = {slot: found for slot in slots if (found := _widest(blocks, slot, locale))}
    if not chosen:
        return None
    return BlockFiller(chosen), {slot: c.block.key for slot, c in chosen.items()}
