"""`misiva demo seed` on SQLite and PostgreSQL: what it writes, that a seed repeats it, that
every message's events read as a real timeline; and the activity's and capture inbox's search
filters over that traffic."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from misiva.demo.seed import DatabaseInUse, Seeded, SeedOptions, seed_demo
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.records import CapturedMessage, StoredEvent, StoredMessage
from misiva.mail.mime import extract_bodies
from misiva.storage import Database
from misiva.storage import capture as capture_store
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import templates as template_store
from misiva.storage.search import MessageQuery, search_messages

NOW = datetime(2026, 12, 6, 18, 30, tzinfo=UTC)
MESSAGES = 400
PASSWORD = "demo password 1234"
# What may follow what in one recipient's timeline: delivery first, then what readers do.
_DELIVERY = {EventType.DEFERRED, EventType.DELIVERED, EventType.BOUNCED}
_AFTER_DELIVERY = {EventType.OPENED, EventType.CLICKED, EventType.COMPLAINED}


async def _seed(db: Database, seed: int = 7) -> Seeded:
    options = SeedOptions(days=5, messages=MESSAGES, seed=seed, password=PASSWORD)
    return await seed_demo(db, options, link_base="http://misiva.test", clock=lambda: NOW)


async def _everything(db: Database) -> list[tuple[StoredMessage, list[StoredEvent]]]:
    async with db.reading() as tx:
        total, found = await search_messages(tx, 1, MessageQuery(), limit=10_000, offset=0)
        assert total == len(found)
        return [(m, await event_store.list_events(tx, m.id)) for m in found]


def _check_timeline(message: StoredMessage, events: list[StoredEvent]) -> None:
    kinds = [e.type for e in events]
    assert kinds[0] is EventType.QUEUED and events[0].created_at == message.accepted_at
    times = [e.created_at for e in events]
    assert times == sorted(times), f"{message.id} out of order: {kinds}"
    assert all(message.accepted_at <= t < NOW for t in times)
    delivery = [k for k in kinds if k in _DELIVERY]
    # Put off zero or more times, then delivered or bounced once.
    assert delivery[-1] in (EventType.DELIVERED, EventType.BOUNCED)
    assert set(delivery[:-1]) <= {EventType.DEFERRED}
    expected = (
        MessageStatus.DELIVERED if delivery[-1] is EventType.DELIVERED else MessageStatus.BOUNCED
    )
    assert message.status is expected
    last_delivery = max(i for i, k in enumerate(kinds) if k in _DELIVERY)
    assert all(kinds.index(k) > last_delivery for k in kinds if k in _AFTER_DELIVERY)
    if EventType.CLICKED in kinds or EventType.COMPLAINED in kinds:
        assert message.status is MessageStatus.DELIVERED
    if EventType.BOUNCED in kinds:
        assert not set(kinds) & _AFTER_DELIVERY


async def test_demo_seed_writes_days_of_traffic_with_real_timelines(db: Database) -> None:
    seeded = await _seed(db)
    assert seeded.messages == MESSAGES and seeded.contacts == MESSAGES // 8
    everything = await _everything(db)
    assert len(everything) == MESSAGES
    for message, events in everything:
        _check_timeline(message, events)
    statuses = Counter(m.status for m, _ in everything)
    kinds = Counter(e.type for _, events in everything for e in events)
    # About 2% bounce, and readers open and click (the plan's rates, with room for chance).
    assert 0 < statuses[MessageStatus.BOUNCED] < MESSAGES * 0.06
    assert kinds[EventType.DEFERRED] > 0 and kinds[EventType.OPENED] > MESSAGES * 0.3
    assert kinds[EventType.CLICKED] > 0
    assert min(m.accepted_at for m, _ in everything) >= NOW - timedelta(days=6)
    # Real content: rendered from the starter templates, with tracking in it.
    message = next(m for m, _ in everything if m.tag == "pedido")
    _text, html = extract_bodies(message.mime)
    assert message.template_id is not None and html and "http://misiva.test/t/o/" in html
    # A hard bounce suppressed its address, as the real write path does.
    bounced = [e for _, events in everything for e in events if e.type is EventType.BOUNCED]
    assert any(e.details.get("bounce_type") == "HardBounce" for e in bounced)
    with pytest.raises(DatabaseInUse):
        await _seed(db)


async def test_the_same_seed_writes_the_same_traffic(sqlite_template: Path, tmp_path: Path) -> None:
    seen = []
    for name in ("a.db", "b.db"):
        shutil.copy(sqlite_template, tmp_path / name)
        db = Database(f"sqlite:///{tmp_path / name}")
        try:
            await _seed(db, seed=42)
            seen.append(
                [
                    (
                        m.id,
                        m.to,
                        m.subject,
                        m.status,
                        m.accepted_at,
                        [(e.type, e.created_at) for e in ev],
                    )
                    for m, ev in await _everything(db)
                ]
            )
        finally:
            await db.close()
    assert seen[0] == seen[1]


async def test_search_filters_over_seeded_traffic(db: Database) -> None:
    await _seed(db)
    everything = [m for m, _ in await _everything(db)]
    async with db.reading() as tx:

        async def count(**filters: object) -> int:
            total, _ = await search_messages(tx, 1, MessageQuery(**filters), limit=1, offset=0)  # type: ignore[arg-type]
            return total

        bounced = sum(m.status is MessageStatus.BOUNCED for m in everything)
        assert await count(statuses=(MessageStatus.BOUNCED,)) == bounced
        both = (MessageStatus.BOUNCED, MessageStatus.DELIVERED)
        assert await count(statuses=both) == MESSAGES
        # The API's Postmark meaning is unchanged: "sent" is every final message.
        assert await count(status="sent") == MESSAGES and await count(status="queued") == 0
        _, templates = await template_store.list_templates(tx, 1)
        invoice = next(t for t in templates if t.alias == "invoice")
        invoices = sum(m.template_id == invoice.id for m in everything)
        assert invoices > 0 and await count(template_id=invoice.id) == invoices
        day = sorted(m.accepted_at for m in everything)[MESSAGES // 2]
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1) - timedelta(microseconds=1)
        on_that_day = sum(start <= m.accepted_at <= end for m in everything)
        assert await count(since=start, until=end) == on_that_day > 0
        order = next(m for m in everything if "order_id" in m.metadata)
        assert await count(metadata={"order_id": order.metadata["order_id"]}) == 1
        assert await count(metadata={"order_id": order.metadata["order_id"]}, tag="factura") == 0
    await _capture_search(db, everything)


async def _capture_search(db: Database, everything: list[StoredMessage]) -> None:
    """The capture inbox's search: by recipient and by the message's subject, literally."""
    kept = everything[:60]
    async with db.transaction() as tx:
        await capture_store.insert_captured(
            tx,
            [
                CapturedMessage(
                    0, m.id, m.server_id, "pedidos@tienda.example", list(m.rcpt_state), m.mime, NOW
                )
                for m in kept
            ],
        )
    async with db.reading() as tx:
        total, page = await capture_store.search_captured(tx, 1, limit=50)
        assert total == 60 and len(page) == 50
        assert page[0][0].id > page[-1][0].id and page[0][1]
        target = kept[7]
        recipient = next(iter(target.rcpt_state))
        total, found = await capture_store.search_captured(tx, 1, recipient=recipient.upper())
        assert total == sum(recipient in m.rcpt_state for m in kept)
        assert target.id in {c.message_id for c, _ in found}
        total, found = await capture_store.search_captured(tx, 1, subject=target.subject[3:20])
        assert total >= 1 and all(target.subject[3:20].lower() in s.lower() for _, s in found)
        # A % or _ typed is a character, not a wildcard.
        assert (await capture_store.search_captured(tx, 1, subject="%"))[0] == 0
        assert await capture_store.search_captured(tx, 2) == (0, [])
        one = await capture_store.get_captured(tx, 1, found[0][0].id)
        assert one is not None and one[1] == found[0][1]
        assert await capture_store.get_captured(tx, 2, found[0][0].id) is None
        stored = await message_store.get_message(tx, target.id)
        assert stored is not None
