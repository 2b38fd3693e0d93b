"""Subscriptions and consent: their states, the proof kept of each change, stream settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Postmark allows ten streams a server, the defaults included (reference §5).
MAX_STREAMS = 10
DEFAULT_OPT_IN_TEMPLATE = "subscription-confirm"
DEFAULT_UNSUBSCRIBE_TEMPLATE = "unsubscribe-confirmation"
DEFAULT_OPT_IN_TTL_HOURS = 48


class SubscriptionStatus(StrEnum):
    """Where an address stands on one stream."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class ConsentAction(StrEnum):
    """What a consent record proves happened."""

    REQUESTED = "requested"
    CONFIRMATION_SENT = "confirmation_sent"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    RESUBSCRIBED = "resubscribed"


class UnsubscribeHandling(StrEnum):
    """Postmark's UnsubscribeHandlingType: "Postmark" means the platform adds List-Unsubscribe
    and handles the unsubscribe (here Misiva does); "Custom" and "None" leave it to the sender."""

    NONE = "None"
    PLATFORM = "Postmark"
    CUSTOM = "Custom"


class ChangeVia(StrEnum):
    """Where a recipient's change came from; kept as the consent record's source."""

    ONE_CLICK = "one-click"
    UNSUBSCRIBE_PAGE = "unsubscribe-page"
    MAILTO = "mailto"
    PREFERENCE_CENTRE = "preference-centre"
    CONFIRMATION_LINK = "confirmation-link"


@dataclass(frozen=True, slots=True)
class Subscription:
    server_id: int
    stream: str
    email: str
    status: SubscriptionStatus
    source: str | None
    created_at: datetime
    updated_at: datetime
    requested_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    expires_at: datetime | None = None
    confirmation_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    server_id: int
    stream: str
    email: str
    action: ConsentAction
    at: datetime
    ip: str | None = None
    user_agent: str | None = None
    source: str | None = None
    message_id: str | None = None
    template_id: int | None = None
    template_version: int | None = None
    evidence: str | None = None
    id: int = 0


@dataclass(frozen=True, slots=True)
class Requester:
    """Who acted, as the HTTP request showed them: the consent proof's witness."""

    ip: str | None = None
    user_agent: str | None = None
    via: ChangeVia | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionSettings:
    """A stream's subscription handling (Misiva's extension of Postmark's stream object)."""

    unsubscribe_handling: UnsubscribeHandling = UnsubscribeHandling.NONE
    require_opt_in: bool = False
    opt_in_template: str | None = None
    opt_in_ttl_hours: int = DEFAULT_OPT_IN_TTL_HOURS
    welcome_template: str | None = None
    unsubscribe_template: str | None = None
    notice_from: str | None = None
    notice_stream: str = "outbound"

    @property
    def handles_unsubscribe(self) -> bool:
        return self.unsubscribe_handling is UnsubscribeHandling.PLATFORM


# Postmark creates a server's broadcast stream as "broadcast"; clients that name it send there.
DEFAULT_BROADCAST_STREAM = "broadcast"
# Commercial mail: one-click unsubscribe handled here, confirmed opt-in required, and the
# starter library's confirmation and unsubscribe-confirmation emails.
BROADCAST_DEFAULTS = SubscriptionSettings(
    unsubscribe_handling=UnsubscribeHandling.PLATFORM,
    require_opt_in=True,
    opt_in_template=DEFAULT_OPT_IN_TEMPLATE,
    unsubscribe_template=DEFAULT_UNSUBSCRIBE_TEMPLATE,
)
