"""States and kinds as StrEnums: the only place their spellings live."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """Where a message is in its life; `queued` and `deferred` are the queue's claimable states."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    # Some recipients were delivered, others bounced: the message is done.
    PARTIAL = "partial"

    @property
    def is_final(self) -> bool:
        return self not in (MessageStatus.QUEUED, MessageStatus.DEFERRED)


class EventType(StrEnum):
    """What can happen to a message; the timeline and (later) webhooks speak these."""

    QUEUED = "queued"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    AUTO_REPLIED = "autoreplied"
    SUBSCRIPTION_CHANGED = "subscription_changed"
    # A sending domain's DNS record that passed its last check fails now (no message: the
    # event's recipient is the domain's name; docs/deliverability-domains.md).
    DOMAIN_CHECK_FAILED = "domain_check_failed"
    # A sending-health alert opened or resolved (no message; details say which:
    # docs/deliverability-monitoring.md).
    ALERT = "alert"


class StreamType(StrEnum):
    """Postmark's MessageStreamType values."""

    TRANSACTIONAL = "Transactional"
    BROADCASTS = "Broadcasts"
    INBOUND = "Inbound"


class RouteKind(StrEnum):
    """Where mail for a destination goes: its MX, a relay host, or the capture inbox."""

    MX = "mx"
    SMTP = "smtp"
    CAPTURE = "capture"


class TlsMode(StrEnum):
    """TLS on an SMTP connection to a relay host (`?tls=` in a route)."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    # MX delivery: STARTTLS when the server offers it, plain otherwise (RFC 3207 in practice).
    OPPORTUNISTIC = "opportunistic"


class TrackLinks(StrEnum):
    """Postmark's TrackLinks values (stored now, honoured once tracking exists)."""

    NONE = "None"
    HTML_AND_TEXT = "HtmlAndText"
    HTML_ONLY = "HtmlOnly"
    TEXT_ONLY = "TextOnly"


class ErrorCode:
    """Postmark's API error codes that Misiva answers with (reference/postmark-api.md §1.3)."""

    OK = 0
    BAD_TOKEN = 10
    INVALID_REQUEST = 300
    SENDER_NOT_FOUND = 400
    INVALID_JSON = 402
    INCOMPATIBLE_JSON = 403
    JSON_REQUIRED = 409
    INACTIVE_RECIPIENT = 406
    TOO_MANY_BATCH_MESSAGES = 410
    # Postmark's "Rate limit exceeded", with HTTP 429 (reference/postmark-api.md §1.3).
    RATE_LIMITED = 429
    MESSAGE_NOT_FOUND = 701
    BOUNCE_QUERY = 1000
    BOUNCE_NOT_FOUND = 1001
    BOUNCE_CANNOT_ACTIVATE = 1003
    TEMPLATE_QUERY = 1100
    TEMPLATE_NOT_FOUND = 1101
    TEMPLATE_LIMIT = 1105
    TEMPLATE_NO_DATA = 1109
    TEMPLATE_FIELD_MISSING = 1120
    TEMPLATE_INVALID = 1122
    TEMPLATE_FIELD_NOT_ALLOWED = 1123
    LAYOUT_IN_USE = 1130
    LAYOUT_PLACEHOLDER = 1131
    # Message streams API (/message-streams).
    STREAM_INVALID_TYPE = 1221
    STREAM_ID_REQUIRED = 1222
    STREAM_NAME_REQUIRED = 1223
    STREAM_NAME_TOO_LONG = 1224
    STREAM_LIMIT = 1225
    # 1226 names an unknown stream in /message-streams; 1235 an unknown MessageStream in a send.
    STREAM_UNKNOWN = 1226
    STREAM_ID_INVALID = 1227
    STREAM_INBOUND_EXISTS = 1228
    STREAM_DEFAULT_NOT_ARCHIVABLE = 1229
    STREAM_ID_EXISTS = 1230
    STREAM_DESCRIPTION_TOO_LONG = 1231
    STREAM_NOT_ARCHIVED = 1232
    STREAM_ID_PM_PREFIX = 1233
    STREAM_DESCRIPTION_HTML = 1234
    STREAM_NOT_FOUND = 1235
    STREAM_NOT_SENDABLE = 1236
    STREAM_ID_RESERVED = 1237
    # Misiva's own: content checks (docs/deliverability-content.md). Not Postmark's codes.
    SPAM_CHECK_NOT_CONFIGURED = 1140
    SPAM_CHECK_UNAVAILABLE = 1141
    # Misiva's own: promo code pools (docs/offers-promo-codes.md). Not Postmark's codes.
    PROMO_POOL_NOT_FOUND = 1150
    PROMO_POOL_EXHAUSTED = 1151
    PROMO_POOL_NOT_ACTIVE = 1152
    PROMO_CODE_NOT_FOUND = 1153
    PROMO_CODE_ALREADY_REDEEMED = 1154
    PROMO_CODE_NOT_ALLOCATED = 1155
    # Misiva's own: conversions (docs/offers-conversions.md).
    CONVERSION_NOT_ATTRIBUTED = 1160
    # Misiva's own: event-triggered automation (docs/automation.md).
    TRIGGER_NOT_FOUND = 1170
    APP_EVENT_NOT_FOUND = 1171
    # Misiva's own: the database cannot be reached, is out of space or held a lock too long
    # (docs/reliability.md). Sent with HTTP 503: nothing was stored, the request may be retried.
    DATABASE_UNAVAILABLE = 1190
