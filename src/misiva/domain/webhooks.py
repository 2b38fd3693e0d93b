"""Which webhook record an event becomes: Postmark's RecordType values, in one table."""

from __future__ import annotations

from enum import StrEnum

from misiva.domain.enums import EventType


class RecordType(StrEnum):
    """Postmark's RecordType values; they double as the names of a webhook's triggers."""

    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    SPAM_COMPLAINT = "SpamComplaint"
    OPEN = "Open"
    CLICK = "Click"
    SUBSCRIPTION_CHANGE = "SubscriptionChange"


# Postmark posts auto-replies as Bounce records of Type AutoResponder; queueing and
# deferral between attempts are Misiva's own states and have no webhook.
RECORD_TYPES: dict[EventType, RecordType] = {
    EventType.DELIVERED: RecordType.DELIVERY,
    EventType.BOUNCED: RecordType.BOUNCE,
    EventType.AUTO_REPLIED: RecordType.BOUNCE,
    EventType.COMPLAINED: RecordType.SPAM_COMPLAINT,
    EventType.OPENED: RecordType.OPEN,
    EventType.CLICKED: RecordType.CLICK,
    EventType.SUBSCRIPTION_CHANGED: RecordType.SUBSCRIPTION_CHANGE,
}
