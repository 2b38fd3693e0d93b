"""A stream's share of content blocks (streams.max_block_share), on SQLite and PostgreSQL."""

from __future__ import annotations

from builders import T0, make_tenant
from misiva.domain.enums import StreamType
from misiva.storage import Database
from misiva.storage import streams as stream_store


async def test_a_stream_keeps_sets_and_clears_its_block_share(db: Database) -> None:
    tenant = await make_tenant(db)
    server_id = tenant.server.id
    async with db.transaction() as tx:
        made = await stream_store.insert_stream(
            tx, server_id, "receipts", "Receipts", StreamType.TRANSACTIONAL, T0, max_block_share=20
        )
        plain = await stream_store.insert_stream(
            tx, server_id, "alerts", "Alerts", StreamType.TRANSACTIONAL, T0
        )
    assert made.max_block_share == 20 and plain.max_block_share is None
    async with db.transaction() as tx:
        # Other changes leave it as it is; 0 is a value (no blocks at all), not "unset".
        await stream_store.update_stream(tx, server_id, "receipts", T0, name="Receipts 2")
        kept = await stream_store.get_stream(tx, server_id, "receipts")
        await stream_store.update_stream(tx, server_id, "alerts", T0, max_block_share=0)
        zero = await stream_store.get_stream(tx, server_id, "alerts")
        await stream_store.update_stream(tx, server_id, "receipts", T0, default_block_share=True)
        listed = {s.stream_id: s for s in await stream_store.list_streams(tx, server_id)}
    assert kept is not None and kept.max_block_share == 20 and kept.name == "Receipts 2"
    assert zero is not None and zero.max_block_share == 0
    assert listed["receipts"].max_block_share is None
    assert listed["alerts"].max_block_share == 0
    assert listed["outbound"].max_block_share is None
