"""Suppression lists per stream: add and remove by hand, reactivate bounces (Postmark's API)."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.records import Bounce
from misiva.events.record import record_events
from misiva.events.subscriptions import customer_change
from misiva.mail.addresses import parse_single_address
from misiva.storage import Database, Tx
from misiva.storage import bounces as bounce_store
from misiva.storage import streams as stream_store
from misiva.storage import suppressions as suppression_store


@dataclass(frozen=True, slots=True)
class SuppressionResult:
    email: str
    status: str  # Suppressed | Deleted | Failed
    message: str | None = None


async def add_suppressions(
    db: Database, server_id: int, stream: str, emails: list[str], *, clock: Clock = utcnow
) -> list[SuppressionResult]:
    results = []
    changes = []
    async with db.transaction() as tx:
        await _stream_exists(tx, server_id, stream)
        for email in emails:
            try:
                address = parse_single_address("EmailAddress", email).email
            except MisivaError as error:
                results.append(SuppressionResult(email, "Failed", error.message))
                continue
            now = clock()
            if await suppression_store.suppress(
                tx, server_id, stream, address, "ManualSuppression", "Customer", now
            ):
                changes.append(customer_change(server_id, stream, address, suppressed=True, at=now))
            results.append(SuppressionResult(address, "Suppressed"))
        # Postmark posts a SubscriptionChange for every address added to or removed from a
        # suppression list, whoever did it.
        await record_events(tx, changes)
    return results


async def delete_suppressions(
    db: Database, server_id: int, stream: str, emails: list[str], *, clock: Clock = utcnow
) -> list[SuppressionResult]:
    """Reactivate addresses; a spam complaint can only be removed by the recipient (Postmark)."""
    results = []
    changes = []
    async with db.transaction() as tx:
        await _stream_exists(tx, server_id, stream)
        for email in emails:
            removed = await suppression_store.unsuppress(tx, server_id, stream, email)
            if removed is not None and removed.reason == "SpamComplaint":
                await suppression_store.suppress(
                    tx,
                    server_id,
                    stream,
                    email,
                    removed.reason,
                    removed.origin,
                    removed.created_at,
                )
                results.append(
                    SuppressionResult(email.lower(), "Failed", "Spam complaints cannot be deleted.")
                )
                continue
            await bounce_store.deactivate_for(tx, server_id, stream, email)
            if removed is not None:
                changes.append(
                    customer_change(server_id, stream, email, suppressed=False, at=clock())
                )
            results.append(SuppressionResult(email.lower(), "Deleted"))
        await record_events(tx, changes)
    return results


async def activate_bounce(db: Database, server_id: int, bounce_id: int) -> Bounce:
    """PUT /bounces/{id}/activate: lift the suppression the bounce caused."""
    async with db.transaction() as tx:
        bounce = await bounce_store.get_bounce(tx, server_id, bounce_id)
        if bounce is None:
            raise NotFound("The bounce was not found.", ErrorCode.BOUNCE_NOT_FOUND)
        if not bounce.can_activate:
            raise InvalidRequest(
                "This bounce cannot be activated.", ErrorCode.BOUNCE_CANNOT_ACTIVATE
            )
        await suppression_store.unsuppress(tx, server_id, bounce.stream, bounce.email)
        await bounce_store.deactivate_for(tx, server_id, bounce.stream, bounce.email)
        activated = await bounce_store.get_bounce(tx, server_id, bounce_id)
    assert activated is not None
    return activated


async def _stream_exists(tx: Tx, server_id: int, stream: str) -> None:
    """A list is a stream's: suppressing into a stream the server lacks would keep rows that
    no send ever reads, and answer 200 for a typo (Postmark answers 1226)."""
    if await stream_store.get_stream(tx, server_id, stream) is None:
        raise NotFound(
            "The message stream for the provided 'ID' was not found.", ErrorCode.STREAM_UNKNOWN
        )
