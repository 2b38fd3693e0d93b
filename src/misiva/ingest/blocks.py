"""Content blocks for templated sends: load the running blocks of the slots a template
places (once per slot set, briefly cached) and choose each slot's block for one recipient."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from misiva.domain.clock import Clock, utcnow
from misiva.domain.content_blocks import ContentBlock
from misiva.render.blocks import BlockFiller, Chosen, choose, slots_of
from misiva.render.compile import CompiledTemplate
from misiva.storage import Tx
from misiva.storage import content_blocks as block_store

# A block edited in the UI or API reaches sends within this time: long enough that a busy
# server asks for a slot's blocks a few times a minute rather than once per message, short
# enough for a marketer who just saved one and sends a test.
BLOCKS_TTL = timedelta(seconds=5)
_MAX_ENTRIES = 1024


class ContentBlockLoader:
    """The blocks a send may place, and the filler that places them for one recipient."""

    def __init__(self, *, clock: Clock = utcnow, ttl: timedelta = BLOCKS_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._slots: weakref.WeakKeyDictionary[CompiledTemplate, frozenset[str]] = (
            weakref.WeakKeyDictionary()
        )
        self._loaded: dict[tuple[int, frozenset[str]], tuple[datetime, list[ContentBlock]]] = {}

    async def filler(
        self,
        tx: Tx,
        server_id: int,
        compiled: CompiledTemplate,
        model: Mapping[str, Any],
        *,
        email: str | None,
        locale: str | None,
    ) -> BlockFiller | None:
        """None when the template places no slot; else each slot's choice (or none)."""
        slots = self.slots(compiled)
        if not slots:
            return None
        now = self._clock()
        blocks = await self._blocks(tx, server_id, slots, now)
        chosen: dict[str, Chosen] = {}
        for slot in slots:
            found = choose(blocks, slot, model, email=email or "", locale=locale, now=now)
            if found is not None:
                chosen[slot] = found
        return BlockFiller(chosen)

    def slots(self, compiled: CompiledTemplate) -> frozenset[str]:
        """The slots a template places (its static analysis, once per compiled template)."""
        slots = self._slots.get(compiled)
        if slots is None:
            slots = self._slots[compiled] = slots_of(compiled)
        return slots

    async def _blocks(
        self, tx: Tx, server_id: int, slots: frozenset[str], now: datetime
    ) -> list[ContentBlock]:
        key = (server_id, slots)
        cached = self._loaded.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        blocks = await block_store.unfinished_blocks(tx, server_id, slots, now)
        if len(self._loaded) >= _MAX_ENTRIES:
            self._loaded.clear()
        self._loaded[key] = (now, blocks)
        return blocks
