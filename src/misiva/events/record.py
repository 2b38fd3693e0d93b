"""Record what happened to messages: append events and apply the state they imply, in one tx."""

from __future__ import annotations

from collections.abc import Sequence

from misiva.domain.delivery import AttemptResult, EventRecord
from misiva.domain.enums import EventType
from misiva.domain.records import NewMessage
from misiva.storage import Tx, queue
from misiva.storage import events as event_log
from misiva.storage import messages as message_store


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
    """Apply delivery attempts' outcomes to the queue and append their events together.

    Later stages hang here: suppressions after hard bounces, webhook rows per event.
    """
    await queue.record_attempts(tx, list(attempts))
    await event_log.insert_events(tx, list(events))
