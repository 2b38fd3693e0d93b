"""RFC 5965 feedback reports (ARF) and Microsoft's JMRP look-alike: who complained, about which
message."""

from __future__ import annotations

import email
from email.message import Message
from typing import Final

from misiva.bounces.message import (
    addresses_in_header,
    enclosed_headers,
    header_text,
    original_message_id,
    own_parts,
    part_text,
)
from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport

# RFC 5965 §7.3 registers abuse, fraud, other and virus; "opt-out" comes from the ARF drafts
# that feedback loops still speak. All of them mean "this recipient objects to this mail".
# RFC 6591 "auth-failure" (DMARC forensic reports) and RFC 6430 "not-spam" do not.
_COMPLAINT_TYPES: Final = frozenset({"abuse", "fraud", "other", "virus", "opt-out", "optout"})
# Microsoft's Junk Mail Reporting Program sends the reported message alone, marked with this.
_JMRP_MARK: Final = "X-HmXmrOriginalRecipient"
# Who complained, best first: RFC 5965 §3.2 Original-Rcpt-To, the drafts' Removal-Recipient.
_RECIPIENT_FIELDS: Final = ("Original-Rcpt-To", "Removal-Recipient")
_DETAIL_FIELDS: Final = {
    "user_agent": "User-Agent",
    "source_ip": "Source-IP",
    "reported_domain": "Reported-Domain",
    "arrival_date": "Arrival-Date",
    "original_mail_from": "Original-Mail-From",
}


def parse_arf(msg: Message) -> tuple[FeedbackReport, ...]:
    """A complaint for an ARF or JMRP report, not-bounce for other feedback; () otherwise."""
    fields = feedback_fields(msg)
    if fields is None:
        if not any(_JMRP_MARK in headers for headers in enclosed_headers(msg)):
            return ()
        fields = Message()  # JMRP has no feedback fields: it is always a complaint.
    feedback_type = header_text(fields, "Feedback-Type").lower()
    # Older feedback loops omit Feedback-Type; what they send is an abuse report.
    complaint = not feedback_type or feedback_type in _COMPLAINT_TYPES
    details = {"parser": "arf", "feedback_type": feedback_type or "abuse"}
    details.update(
        {key: value for key, name in _DETAIL_FIELDS.items() if (value := header_text(fields, name))}
    )
    return (
        FeedbackReport(
            kind=FeedbackKind.COMPLAINT if complaint else FeedbackKind.NOT_BOUNCE,
            bounce_type=BounceType.SPAM_COMPLAINT if complaint else None,
            recipients=tuple(complainants(msg, fields)),
            original_message_id=original_message_id(msg),
            details=details,
        ),
    )


def feedback_fields(msg: Message) -> Message | None:
    """The machine-readable part (RFC 5965 §2 (c), message/feedback-report), as fields."""
    for part in own_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return email.message_from_string(part_text(part))
    return None


def complainants(msg: Message, fields: Message) -> list[str]:
    """The complaining addresses: from the report's fields, else the enclosed original."""
    for name in _RECIPIENT_FIELDS:
        found = addresses_in_header(fields, name)
        if found:
            return found
    for headers in enclosed_headers(msg):
        found = addresses_in_header(headers, _JMRP_MARK) or addresses_in_header(headers, "To")
        if found:
            return found
    return []
