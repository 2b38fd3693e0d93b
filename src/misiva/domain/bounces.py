"""Bounce classes as data: Postmark's bounce types, their codes and descriptions, and what a
parsed feedback message (DSN, ARF complaint, auto-reply) says."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BounceType(StrEnum):
    """Postmark's bounce Type values (reference/postmark-api.md §6)."""

    HARD_BOUNCE = "HardBounce"
    TRANSIENT = "Transient"
    UNSUBSCRIBE = "Unsubscribe"
    SUBSCRIBE = "Subscribe"
    AUTO_RESPONDER = "AutoResponder"
    ADDRESS_CHANGE = "AddressChange"
    DNS_ERROR = "DnsError"
    SPAM_NOTIFICATION = "SpamNotification"
    OPEN_RELAY_TEST = "OpenRelayTest"
    UNKNOWN = "Unknown"
    SOFT_BOUNCE = "SoftBounce"
    VIRUS_NOTIFICATION = "VirusNotification"
    CHALLENGE_VERIFICATION = "ChallengeVerification"
    BAD_EMAIL_ADDRESS = "BadEmailAddress"
    SPAM_COMPLAINT = "SpamComplaint"
    MANUALLY_DEACTIVATED = "ManuallyDeactivated"
    UNCONFIRMED = "Unconfirmed"
    BLOCKED = "Blocked"
    SMTP_API_ERROR = "SMTPApiError"
    INBOUND_ERROR = "InboundError"
    DMARC_POLICY = "DMARCPolicy"
    TEMPLATE_RENDERING_FAILED = "TemplateRenderingFailed"

    @property
    def type_code(self) -> int:
        return _CODES[self]

    @property
    def display_name(self) -> str:
        """Postmark's Name field, e.g. "Hard bounce"."""
        return _NAMES.get(self, self.value)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self, self.display_name)

    @property
    def deactivates(self) -> bool:
        """Whether this kind suppresses the address (Postmark's Inactive: true)."""
        return self in (
            BounceType.HARD_BOUNCE,
            BounceType.BAD_EMAIL_ADDRESS,
            BounceType.SPAM_COMPLAINT,
            BounceType.MANUALLY_DEACTIVATED,
        )


_CODES = {
    BounceType.HARD_BOUNCE: 1,
    BounceType.TRANSIENT: 2,
    BounceType.UNSUBSCRIBE: 16,
    BounceType.SUBSCRIBE: 32,
    BounceType.AUTO_RESPONDER: 64,
    BounceType.ADDRESS_CHANGE: 128,
    BounceType.DNS_ERROR: 256,
    BounceType.SPAM_NOTIFICATION: 512,
    BounceType.OPEN_RELAY_TEST: 1024,
    BounceType.UNKNOWN: 2048,
    BounceType.SOFT_BOUNCE: 4096,
    BounceType.VIRUS_NOTIFICATION: 8192,
    BounceType.CHALLENGE_VERIFICATION: 16384,
    BounceType.BAD_EMAIL_ADDRESS: 100000,
    BounceType.SPAM_COMPLAINT: 100001,
    BounceType.MANUALLY_DEACTIVATED: 100002,
    BounceType.UNCONFIRMED: 100003,
    BounceType.BLOCKED: 100006,
    BounceType.SMTP_API_ERROR: 100007,
    BounceType.INBOUND_ERROR: 100008,
    BounceType.DMARC_POLICY: 100009,
    BounceType.TEMPLATE_RENDERING_FAILED: 100010,
}
_NAMES = {
    BounceType.HARD_BOUNCE: "Hard bounce",
    BounceType.TRANSIENT: "Message delayed",
    BounceType.AUTO_RESPONDER: "Auto responder",
    BounceType.DNS_ERROR: "DNS error",
    BounceType.SPAM_NOTIFICATION: "Spam notification",
    BounceType.SOFT_BOUNCE: "Soft bounce",
    BounceType.SPAM_COMPLAINT: "Spam complaint",
    BounceType.MANUALLY_DEACTIVATED: "Manually deactivated",
    BounceType.BAD_EMAIL_ADDRESS: "Invalid email address",
    BounceType.BLOCKED: "ISP block",
    BounceType.DMARC_POLICY: "DMARC policy",
}
_DESCRIPTIONS = {
    # Verbatim from recorded Postmark responses.
    BounceType.HARD_BOUNCE: "The server was unable to deliver your message (ex: unknown user, "
    "mailbox not found).",
    BounceType.SOFT_BOUNCE: "Unable to temporarily deliver message (i.e. mailbox full, account "
    "disabled, exceeds quota, out of disk space).",
    BounceType.TRANSIENT: "The server could not temporarily deliver your message (ex: Message is "
    "delayed due to network troubles).",
    BounceType.SPAM_COMPLAINT: "The subscriber explicitly marked this message as spam.",
    BounceType.AUTO_RESPONDER: 'Automatic email responder (ex: "Out of Office" or "On Vacation").',
    BounceType.BLOCKED: "The receiving server blocked the message (content or reputation).",
    BounceType.DNS_ERROR: "A temporary DNS error.",
}


class FeedbackKind(StrEnum):
    """What a message that came back to the bounce address is."""

    BOUNCE = "bounce"  # a delivery status notification or non-standard bounce
    DELAY = "delay"  # a "delayed, still trying" notice: informative, not a failure
    COMPLAINT = "complaint"  # an ARF feedback report (RFC 5965)
    AUTO_REPLY = "autoreply"  # RFC 3834 vacation / out of office
    NOT_BOUNCE = "not-bounce"  # anything else (success DSN, ordinary mail, DMARC report...)


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """What a parser found in one returned message."""

    kind: FeedbackKind
    bounce_type: BounceType | None
    # The failed (or complaining, or auto-replying) recipients, lower-cased.
    recipients: tuple[str, ...] = ()
    status: str = ""  # RFC 3463 enhanced status, e.g. "5.1.1"
    diagnostic: str = ""  # the remote server's words, e.g. "smtp; 550 5.1.1 user unknown"
    # The Message-ID of the original message, when the report quotes it.
    original_message_id: str | None = None
    remote_mta: str = ""
    details: dict[str, str] = field(default_factory=dict)
