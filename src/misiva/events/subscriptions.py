"""Record a recipient's subscription change: its row, suppression, consent proof and event.

The one write path for "this address joined or left this stream", whoever reports it: the
one-click unsubscribe, the unsubscribe page, an unsubscribe email, the preference centre or a
confirmed opt-in. Everything happens in the caller's transaction, and a change that changes
nothing (a second one-click POST) records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.subscriptions import (
    ConsentAction,
    ConsentRecord,
    Requester,
    Subscription,
    SubscriptionStatus,
)
from misiva.events.record import record_events
from misiva.storage import Tx
from misiva.storage import bounces as bounce_store
from misiva.storage import subscriptions as subscription_store
from misiva.storage import suppressions as suppression_store

# Postmark's reason for an address the recipient took off a stream themselves.
UNSUBSCRIBED_REASON = "ManualSuppression"


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    server_id: int
    stream: str
    email: str
    # True: confirmed or resubscribed; False: unsubscribed.
    subscribed: bool
    at: datetime
    requester: Requester = field(default_factory=Requester)
    # The message whose link or mailto address the recipient used, if any.
    message_id: str | None = None


async def record_subscription_change(tx: Tx, change: SubscriptionChange) -> bool:
    """Apply the change; False when the address already stood that way."""
    email = change.email.lower()
    current = await subscription_store.get_subscription(tx, change.server_id, change.stream, email)
    if change.subscribed:
        changed = await _subscribe(tx, change, email, current)
    else:
        changed = await _unsubscribe(tx, change, email, current)
    if not changed:
        return False
    via = change.requester.via.value if change.requester.via else ""
    details = {
        "origin": "Recipient",
        "suppress_sending": "false" if change.subscribed else "true",
        "stream": change.stream,
        "via": via,
    }
    if not change.subscribed:
        details["suppression_reason"] = UNSUBSCRIBED_REASON
    await record_events(
        tx,
        [
            EventRecord(
                message_id=change.message_id,
                server_id=change.server_id,
                type=EventType.SUBSCRIPTION_CHANGED,
                recipient=email,
                at=change.at,
                details=details,
            )
        ],
    )
    return True


async def _unsubscribe(
    tx: Tx, change: SubscriptionChange, email: str, current: Subscription | None
) -> bool:
    suppressed = await suppression_store.suppress(
        tx,
        change.server_id,
        change.stream,
        email,
        UNSUBSCRIBED_REASON,
        "Recipient",
        change.at,
    )
    if current is not None and current.status is SubscriptionStatus.UNSUBSCRIBED and not suppressed:
        return False
    await subscription_store.save_subscription(
        tx,
        _with_status(current, change, email, SubscriptionStatus.UNSUBSCRIBED),
    )
    await _consent(tx, change, email, ConsentAction.UNSUBSCRIBED)
    return True


async def _subscribe(
    tx: Tx, change: SubscriptionChange, email: str, current: Subscription | None
) -> bool:
    if current is not None and current.status is SubscriptionStatus.CONFIRMED:
        return False
    # The person proved they read this address and want the stream: whatever took them off
    # it before (their own unsubscribe, an old bounce) no longer stands.
    await suppression_store.unsuppress(tx, change.server_id, change.stream, email)
    await bounce_store.deactivate_for(tx, change.server_id, change.stream, email)
    was_unsubscribed = current is not None and current.status is SubscriptionStatus.UNSUBSCRIBED
    await subscription_store.save_subscription(
        tx, _with_status(current, change, email, SubscriptionStatus.CONFIRMED)
    )
    action = ConsentAction.RESUBSCRIBED if was_unsubscribed else ConsentAction.CONFIRMED
    await _consent(tx, change, email, action)
    return True


def _with_status(
    current: Subscription | None,
    change: SubscriptionChange,
    email: str,
    status: SubscriptionStatus,
) -> Subscription:
    base = current or Subscription(
        server_id=change.server_id,
        stream=change.stream,
        email=email,
        status=status,
        source=change.requester.via.value if change.requester.via else None,
        created_at=change.at,
        updated_at=change.at,
    )
    if status is SubscriptionStatus.CONFIRMED:
        return replace(
            base, status=status, updated_at=change.at, confirmed_at=change.at, expires_at=None
        )
    return replace(
        base, status=status, updated_at=change.at, unsubscribed_at=change.at, expires_at=None
    )


async def _consent(tx: Tx, change: SubscriptionChange, email: str, action: ConsentAction) -> None:
    await subscription_store.insert_consent(
        tx,
        ConsentRecord(
            server_id=change.server_id,
            stream=change.stream,
            email=email,
            action=action,
            at=change.at,
            ip=change.requester.ip,
            user_agent=(change.requester.user_agent or "")[:1024] or None,
            source=change.requester.via.value if change.requester.via else None,
            message_id=change.message_id,
        ),
    )


def customer_change(
    server_id: int, stream: str, email: str, *, suppressed: bool, at: datetime
) -> EventRecord:
    """The SubscriptionChange of an address the customer suppressed or reactivated through
    Postmark's suppressions API (origin Customer), for record_events to append."""
    details = {
        "origin": "Customer",
        "suppress_sending": "true" if suppressed else "false",
        "stream": stream,
    }
    if suppressed:
        details["suppression_reason"] = UNSUBSCRIBED_REASON
    return EventRecord(
        message_id=None,
        server_id=server_id,
        type=EventType.SUBSCRIPTION_CHANGED,
        recipient=email.lower(),
        at=at,
        details=details,
    )
