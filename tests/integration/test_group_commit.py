"""Concurrent sends share transactions, and every one is still answered after its commit."""

from __future__ import annotations

import asyncio

import httpx

from misiva.runtime.wiring import Platform
from misiva.storage import messages as message_store

SEND = {"From": "hola@shop.test", "To": "ana@example.com", "TextBody": "x"}


async def test_concurrent_sends_are_all_stored_and_keys_stay_unique(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    replies = await asyncio.gather(
        *(api.post("/email", json=SEND) for _ in range(30)),
        *(api.post("/email", json=SEND, headers={"Idempotency-Key": "same"}) for _ in range(5)),
    )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    ids = [r.json()["MessageID"] for r in replies]
    keyed = set(ids[30:])
    assert len(keyed) == 1, "one Idempotency-Key, one message, whichever request won"
    async with platform.db.transaction() as tx:
        stored = await message_store.get_messages(tx, ids)
    assert set(stored) == set(ids) and len(stored) == 31
