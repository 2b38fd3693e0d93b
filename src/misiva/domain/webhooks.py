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
    # Misiva's own (Postmark has no such webhook): a domain's DNS record broke.
    DOMAIN_CHECK_FAILED = "DomainCheckFailed"
    # Misiva's own: a sending-health alert (bounce, complaint, deferral rate, delivery time)
    # opened or resolved.
    ALERT = "Alert"


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
    EventType.DOMAIN_CHECK_FAILED: RecordType.DOMAIN_CHECK_FAILED,
    EventType.ALERT: RecordType.ALERT,
}

# Record types about the server rather than one stream's message: every webhook of the
# server that enables them hears them, whatever its stream.
SERVER_WIDE: frozenset[RecordType] = frozenset({RecordType.DOMAIN_CHECK_FAILED, RecordType.ALERT})
