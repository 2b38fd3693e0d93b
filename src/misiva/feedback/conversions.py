"""Record a conversion the customer's systems report: find the message it is credited to (the
one named, or the recipient's last touch in the window), and store it once per order id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from misiva.domain.clock import Clock, utcnow
from misiva.domain.content_blocks import BlockChoice
from misiva.domain.conversions import Conversion, NewConversion, Touch, last_touch
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.records import StoredMessage
from misiva.storage import Database, Tx
from misiva.storage import conversions as conversion_store
from misiva.storage import messages as message_store
from misiva.storage.content_blocks import choices_for_message

# How far ahead of this server's clock a reported time may be (the reporter's clock drifts).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Recorded:
    conversion: Conversion
    created: bool  # False when the order id had been reported before
    touch: str  # how the message was found: Touch.GIVEN, or the recipient's last touch
    blocks: list[BlockChoice]  # the message's blocks and variants, credited with it


class Conversions:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def record(self, server_id: int, new: NewConversion) -> Recorded:
        now = self._clock()
        occurred = new.occurred_at or now
        if occurred > now + CLOCK_SKEW:
            raise InvalidRequest("'OccurredAt' is in the future.", ErrorCode.INVALID_REQUEST)
        # A reporting system's clock a little ahead of ours is not a conversion to come.
        occurred = min(occurred, now)
        async with self._db.transaction() as tx:
            message_id, touch = await self._message_id(tx, server_id, new, occurred)
            message = await message_store.get_message(tx, message_id, server_id)
            if message is None:
                raise NotFound(f"Message ID {message_id} not found.", ErrorCode.MESSAGE_NOT_FOUND)
            recipient = new.recipient or _first_recipient(message)
            conversion, created = await conversion_store.insert_conversion(
                tx,
                message,
                recipient,
                value=new.value,
                currency=new.currency,
                order_id=new.order_id,
                occurred_at=occurred,
                now=now,
            )
            blocks = await choices_for_message(tx, server_id, conversion.message_id)
        return Recorded(conversion, created, touch, blocks)

    async def _message_id(
        self, tx: Tx, server_id: int, new: NewConversion, occurred: datetime
    ) -> tuple[str, str]:
        if new.message_id is not None:
            return new.message_id, Touch.GIVEN
        if new.recipient is None:
            raise InvalidRequest(
                "A conversion needs a 'MessageID' or a 'Recipient'.", ErrorCode.INVALID_REQUEST
            )
        found = last_touch(
            await conversion_store.touches(
                tx, server_id, new.recipient, occurred - new.window, occurred
            )
        )
        if found is None:
            hours = int(new.window.total_seconds() // 3600)
            raise MisivaError(
                f"No message reached {new.recipient} in the {hours} hours before the "
                "conversion; nothing to attribute it to.",
                ErrorCode.CONVERSION_NOT_ATTRIBUTED,
            )
        return found

    async def list(
        self, server_id: int, *, message_id: str | None, count: int, offset: int
    ) -> tuple[int, list[Conversion]]:
        async with self._db.reading() as tx:
            return await conversion_store.list_conversions(
                tx, server_id, message_id=message_id, count=count, offset=offset
            )


def _first_recipient(message: StoredMessage) -> str:
    if message.to:
        return message.to[0][0]
    return next(iter(message.rcpt_state), "")
