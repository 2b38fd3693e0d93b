"""Record what happened to messages: append events and apply what they imply, in one tx.

The one write path for "something happened": delivery outcomes, bounces that came back as
mail, complaints, opens and clicks all arrive here, and here a hard bounce or complaint
suppresses the address, and every event a webhook listens for is queued in its outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from misiva.domain.bounces import BounceType
from misiva.domain.delivery import AttemptResult, EventRecord
from misiva.domain.enums import EventType, StreamType
from misiva.domain.records import NewMessage, StoredMessage
from misiva.events.fanout import queue_webhooks
from misiva.storage import Tx, queue
from misiva.storage import bounces as bounce_store
from misiva.storage import events as event_log
from misiva.storage import messages as message_store
from misiva.storage import streams as stream_store
from misiva.storage import suppressions as suppression_store
from misiva.storage.bounces import NewBounce

# Events that become a bounce record (Postmark's bounces include complaints and auto-replies).
_BOUNCE_EVENTS = (EventType.BOUNCED, EventType.COMPLAINED, EventType.AUTO_REPLIED)


async def record_queued(tx: Tx, batch: Sequence[NewMessage]) -> None:
    """Store accepted messages with one `queued` event each, in the caller's transaction."""
    await message_store.insert_messages(tx, list(batch))
    await event_log.insert_events(
        tx,
        [
            EventRecord(
                message_id=m.id,
                server_id=m.server_id,
                type=EventType.QUEUED,
                recipient=", ".join(m.recipients),
                at=m.accepted_at,
                details={},
            )
            for m in batch
        ],
    )


async def record_attempts(
    tx: Tx, attempts: Sequence[AttemptResult], events: Sequence[EventRecord]
) -> None:
    """Apply delivery attempts' outcomes to the queue and record their events together."""
    await queue.record_attempts(tx, list(attempts))
    await record_events(tx, events)


async def record_events(
    tx: Tx, events: Sequence[EventRecord], dumps: dict[int, bytes] | None = None
) -> list[int]:
    """Append events; bounces get their record (and suppress when they must), and webhooks
    their outbox rows. `dumps` maps an event's index to the raw returned message."""
    if not events:
        return []
    messages = await message_store.get_messages(tx, [e.message_id for e in events if e.message_id])
    events = list(events)
    extra: list[EventRecord] = []
    for index, event in enumerate(events):
        if event.type in _BOUNCE_EVENTS and event.message_id in messages:
            message = messages[event.message_id]
            events[index], changed = await _bounce(tx, event, message, (dumps or {}).get(index))
            extra += changed
    all_events = events + extra
    ids = await event_log.insert_events(tx, all_events)
    await queue_webhooks(tx, list(zip(ids, all_events, strict=True)), messages)
    return ids


async def _bounce(
    tx: Tx, event: EventRecord, message: StoredMessage, dump: bytes | None
) -> tuple[EventRecord, list[EventRecord]]:
    """The bounce record for one event; suppression and its SubscriptionChange when due."""
    kind = _bounce_type(event)
    bounce_id = await bounce_store.insert_bounce(
        tx,
        NewBounce(
            server_id=message.server_id,
            message_id=message.id,
            stream=message.stream,
            type=kind.value,
            email=event.recipient,
            sender=message.sender,
            subject=message.subject,
            tag=message.tag,
            details=event.details.get("reply") or event.details.get("diagnostic", ""),
            inactive=kind.deactivates,
            can_activate=kind is not BounceType.SPAM_COMPLAINT,
            dump=dump,
            bounced_at=event.at,
        ),
    )
    recorded = replace(
        event, details={**event.details, "bounce_id": str(bounce_id), "bounce_type": kind.value}
    )
    changed = []
    if kind.deactivates:
        reason = "SpamComplaint" if kind is BounceType.SPAM_COMPLAINT else "HardBounce"
        added = await suppression_store.suppress(
            tx, message.server_id, message.stream, event.recipient, reason, "Recipient", event.at
        )
        if kind is BounceType.SPAM_COMPLAINT:
            # Someone who calls one message spam wants no marketing at all: every commercial
            # stream of the server suppresses them too.
            for stream in await stream_store.list_streams(tx, message.server_id):
                if stream.stream_type is StreamType.BROADCASTS:
                    await suppression_store.suppress(
                        tx,
                        message.server_id,
                        stream.stream_id,
                        event.recipient,
                        reason,
                        "Recipient",
                        event.at,
                    )
        if added:
            changed.append(
                EventRecord(
                    message_id=message.id,
                    server_id=message.server_id,
                    type=EventType.SUBSCRIPTION_CHANGED,
                    recipient=event.recipient,
                    at=event.at,
                    details={
                        "origin": "Recipient",
                        "suppress_sending": "true",
                        "suppression_reason": reason,
                        "stream": message.stream,
                    },
                )
            )
    return recorded, changed


def _bounce_type(event: EventRecord) -> BounceType:
    given = event.details.get("bounce_type")
    if given:
        return BounceType(given)
    if event.type is EventType.COMPLAINED:
        return BounceType.SPAM_COMPLAINT
    if event.type is EventType.AUTO_REPLIED:
        return BounceType.AUTO_RESPONDER
    return (
        BounceType.HARD_BOUNCE if event.details.get("bounce") == "hard" else BounceType.SOFT_BOUNCE
    )
