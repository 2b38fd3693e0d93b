"""What the storage layer hands back: plain typed records, never rows or dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from misiva.domain.content_blocks import BlockChoice
from misiva.domain.enums import EventType, MessageStatus, StreamType
from misiva.domain.subscriptions import SubscriptionSettings


@dataclass(frozen=True, slots=True)
class Server:
    id: int
    name: str
    created_at: datetime
    default_locale: str = "en"
    brand: dict[str, str] = field(default_factory=dict)
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Stream:
    server_id: int
    stream_id: str
    name: str
    stream_type: StreamType
    track_opens: bool = False
    track_links: str = "None"
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived_at: datetime | None = None
    subscriptions: SubscriptionSettings = field(default_factory=SubscriptionSettings)
    # The commercial-content policy: the largest share (percent) of a message's text that
    # content blocks may take; None is the default (DEFAULT_MAX_BLOCK_SHARE_PERCENT).
    # Broadcasts streams are commercial and have no limit.
    max_block_share: int | None = None


@dataclass(frozen=True, slots=True)
class SendingDomain:
    id: int
    server_id: int
    name: str
    dkim_selector: str
    dkim_private_key: bytes
    dkim_public_txt: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated, built message about to be queued."""

    id: str
    server_id: int
    stream: str
    domain_id: int
    sender: str
    envelope_from: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    recipients: tuple[str, ...]
    subject: str
    tag: str | None
    metadata: dict[str, str]
    track_opens: bool | None
    track_links: str | None
    mime: bytes
    accepted_at: datetime
    template_id: int | None = None
    template_version: int | None = None
    locale: str | None = None
    # Claim order under contention (domain.delivery.Priority): 0 transactional, 1 commercial.
    priority: int = 0
    # The content block and variant each template slot got (stored in message_blocks).
    content_blocks: tuple[BlockChoice, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the activity log shows it."""

    id: str
    server_id: int
    stream: str
    status: MessageStatus
    sender: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    rcpt_state: dict[str, str]
    subject: str
    tag: str | None
    metadata: dict[str, str]
    track_opens: bool | None
    track_links: str | None
    mime: bytes
    attempts: int
    next_attempt_at: datetime
    accepted_at: datetime
    template_id: int | None = None
    template_version: int | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    message_id: str | None
    type: EventType
    recipient: str
    created_at: datetime
    details: dict[str, str]
    server_id: int = 0


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    id: int
    message_id: str
    server_id: int
    envelope_from: str
    recipients: list[str]
    mime: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Suppression:
    server_id: int
    stream: str
    email: str
    reason: str  # HardBounce | SpamComplaint | ManualSuppression
    origin: str  # Recipient | Customer | Admin
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Bounce:
    id: int
    server_id: int
    message_id: str | None
    stream: str
    type: str
    email: str
    sender: str
    subject: str
    tag: str | None
    details: str
    inactive: bool
    can_activate: bool
    dump_available: bool
    bounced_at: datetime


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    server_id: int
    url: str
    stream: str
    secret: str
    http_auth: dict[str, str] | None
    http_headers: list[dict[str, str]]
    triggers: dict[str, dict[str, bool]]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: int
    webhook_id: int
    server_id: int
    message_id: str | None
    event_id: int
    record_type: str
    payload: dict[str, object] | None
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
