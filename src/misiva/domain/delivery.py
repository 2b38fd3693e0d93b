"""Values the delivery stage works with: routes, claimed messages and per-recipient outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from misiva.domain.enums import EventType, MessageStatus, RouteKind, TlsMode
from misiva.domain.smtp import ReplyClass, SMTPReply


class Priority(IntEnum):
    """Which due mail a worker claims first: transactional streams before commercial ones, so
    a password reset never waits behind a newsletter of a hundred thousand."""

    TRANSACTIONAL = 0
    COMMERCIAL = 1


class RecipientState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


@dataclass(frozen=True, slots=True)
class Route:
    """One `PATTERN=TARGET` entry of MISIVA_ROUTES."""

    pattern: str
    kind: RouteKind
    host: str = ""
    port: int = 0
    tls: TlsMode = TlsMode.NONE
    username: str | None = None
    password: str | None = None

    def matches(self, domain: str) -> bool:
        domain = domain.lower()
        if self.pattern == "*":
            return True
        if self.pattern.startswith("*."):
            return domain.endswith(self.pattern[1:])
        return domain == self.pattern


@dataclass(frozen=True, slots=True)
class Destination:
    """A concrete SMTP server to talk to; connections are pooled per destination."""

    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    password: str | None = None
    # The name the server's certificate must carry, when it must be valid (an MX reached by
    # its address under an MTA-STS policy, RFC 8461 §4.2); None keeps the mode's own rule.
    tls_name: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message a worker holds a lease on, with what it needs to deliver it."""

    id: str
    server_id: int
    domain_id: int
    envelope_from: str
    # recipient -> RecipientState value; only pending recipients are tried again.
    rcpt_state: dict[str, str]
    mime: bytes
    attempts: int
    accepted_at: datetime

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(r for r, s in self.rcpt_state.items() if s == RecipientState.PENDING)


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    """How one recipient fared in one attempt, with where the reply came from."""

    recipient: str
    reply: SMTPReply
    host: str = ""
    ip: str = ""
    # Set when the sender held the recipient back itself (the receiving provider's limit
    # was reached, see delivery/shaping.py): nothing was sent, so it is not an attempt and
    # no event is recorded; the message is due again after this many seconds.
    held_seconds: float | None = None
    # What the timeline should also show, e.g. an MTA-STS policy in testing mode not met.
    note: str = ""

    @property
    def reply_class(self) -> ReplyClass:
        return self.reply.reply_class


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a message's timeline; an address's subscription change may have no message."""

    message_id: str | None
    server_id: int
    type: EventType
    recipient: str
    at: datetime
    details: dict[str, str]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """A message's queue state after one delivery attempt."""

    message_id: str
    status: MessageStatus
    rcpt_state: dict[str, str]
    next_attempt_at: datetime
    updated_at: datetime
    # False when every recipient was held back: the claim's count of attempts is undone.
    attempted: bool = True
