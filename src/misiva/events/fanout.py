"""Which webhooks hear an event: rows in the outbox, written in the event's own transaction."""

from __future__ import annotations

from misiva.domain.delivery import EventRecord
from misiva.domain.records import StoredMessage, Webhook
from misiva.domain.webhooks import RECORD_TYPES, SERVER_WIDE
from misiva.storage import Tx
from misiva.storage import webhooks as webhook_store
from misiva.storage.webhooks import NewDelivery


def wants(webhook: Webhook, record_type: str, event: EventRecord) -> bool:
    trigger = webhook.triggers.get(record_type) or {}
    if not trigger.get("Enabled"):
        return False
    if record_type == "Open" and trigger.get("PostFirstOpenOnly"):
        return event.details.get("first_open") == "true"
    return True


async def queue_webhooks(
    tx: Tx, recorded: list[tuple[int, EventRecord]], messages: dict[str, StoredMessage]
) -> None:
    """One outbox row per (event, webhook of the message's server and stream that wants it)."""
    candidates = [(i, e) for i, e in recorded if e.type in RECORD_TYPES]
    if not candidates:
        return
    by_server: dict[int, list[Webhook]] = {}
    for server_id in {e.server_id for _, e in candidates}:
        by_server[server_id] = await webhook_store.list_webhooks(tx, server_id)
    rows = []
    for event_id, event in candidates:
        message = messages.get(event.message_id) if event.message_id else None
        # A subscription change names its stream: an unsubscribe from a broadcast is heard on
        # the broadcast stream, a confirmation on the stream confirmed, whatever the message.
        stream = event.details.get("stream") or (message.stream if message else "outbound")
        record_type = RECORD_TYPES[event.type]
        for webhook in by_server.get(event.server_id, []):
            on_stream = webhook.stream == stream or record_type in SERVER_WIDE
            if on_stream and wants(webhook, record_type, event):
                rows.append(
                    NewDelivery(
                        webhook.id, event.server_id, event.message_id, event_id, record_type
                    )
                )
    if rows:
        await webhook_store.insert_deliveries(tx, rows, recorded[0][1].at)
