"""RFC 3464 delivery status notifications: one report per outcome among the recipients that a
message/delivery-status part lists."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from typing import Final

from misiva.bounces.classify import STATUS, classify_failure, is_permanent
from misiva.bounces.message import (
    TEXT_LIMIT,
    clean_address,
    header_text,
    notice_addresses,
    notice_text,
    original_message_id,
    own_parts,
    part_text,
    reply_line,
    unique,
)
from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport

# RFC 3464 §2.1, and its SMTPUTF8 sibling from RFC 6533 §6.1.
_REPORT_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})
# RFC 3464 §2.3.3 Action values, plus what real MTAs write instead: "error" (OpenSMTPD) and
# "deliverable" (Postfix's answer to an address-verification request).
_ACTION_KINDS: Final = {
    "failed": FeedbackKind.BOUNCE,
    "error": FeedbackKind.BOUNCE,
    "delayed": FeedbackKind.DELAY,
    "delivered": FeedbackKind.NOT_BOUNCE,
    "relayed": FeedbackKind.NOT_BOUNCE,
    "expanded": FeedbackKind.NOT_BOUNCE,
    "deliverable": FeedbackKind.NOT_BOUNCE,
}
# Without a known Action, the status class decides (RFC 3463 §2: 2 success, 4 and 5 failure).
_STATUS_KINDS: Final = {
    "5": FeedbackKind.BOUNCE,
    "4": FeedbackKind.DELAY,
    "2": FeedbackKind.NOT_BOUNCE,
}
# Failures are the report that matters most, so they come first.
_KIND_ORDER: Final = {FeedbackKind.BOUNCE: 0, FeedbackKind.DELAY: 1, FeedbackKind.NOT_BOUNCE: 2}
# Recipient fields, best first: Original-Recipient is the address as we gave it (§2.3.1).
_RECIPIENT_FIELDS: Final = ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient")
_BLANK_LINE: Final = re.compile(r"\r?\n[ \t]*\r?\n")


@dataclass(frozen=True, slots=True)
class Fallback:
    """What the human-readable notice (RFC 3464 §2, first part) offers a garbled group."""

    addresses: tuple[str, ...]
    diagnostic: str


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """What one RFC 3464 §2.3 per-recipient field group says."""

    addresses: tuple[str, ...]
    kind: FeedbackKind
    bounce_type: BounceType | None
    action: str
    status: str
    diagnostic: str
    remote_mta: str


def parse_dsn(msg: Message) -> tuple[FeedbackReport, ...]:
    """Reports for a delivery status notification, failures first; () if it is not one."""
    groups = field_groups(msg)
    per_recipient = [g for g in groups if g.get("Action") or g.get("Final-Recipient")]
    if not per_recipient:
        return ()
    notice = notice_text(msg)
    fallback = Fallback(tuple(notice_addresses(notice, msg)), "")
    if len(per_recipient) == 1:
        # With one recipient, the notice's quoted reply can only be about that recipient.
        fallback = Fallback(fallback.addresses, reply_line(notice))
    statuses = [recipient_status(group, fallback) for group in per_recipient]
    reporting_mta = next((m for g in groups if (m := _typed_value(g, "Reporting-MTA"))), "")
    details = {"parser": "dsn", "reporting_mta": reporting_mta}
    return _reports(statuses, original_message_id(msg), details)


def field_groups(msg: Message) -> list[Message]:
    """The field groups (per-message, then per-recipient) of every delivery-status part."""
    parts = [p for p in own_parts(msg) if p.get_content_type() in _REPORT_TYPES]
    if parts:
        return [group for part in parts for group in _groups_of(part)]
    if msg.get_content_type() == "multipart/report" and not msg.is_multipart():
        # A boundary that matches none of the body's delimiters leaves the whole report as
        # one text (seen from a relay that rewrote it); its field groups are still in there.
        return field_blocks(part_text(msg))
    return []


def _groups_of(part: Message) -> list[Message]:
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
        return [group for group in payload if isinstance(group, Message)]
    if isinstance(payload, list):
        # The stdlib reads other message/* types as one message: its header is the first group.
        return field_blocks("\n\n".join(str(p) for p in payload if isinstance(p, Message)))
    return field_blocks(part_text(part))


def field_blocks(text: str) -> list[Message]:
    """Blank-line separated groups of header-style fields, as RFC 3464 §2.1 lays them out."""
    chunks = _BLANK_LINE.split(text[:TEXT_LIMIT])
    return [email.message_from_string(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def recipient_status(group: Message, fallback: Fallback) -> RecipientStatus:
    """One recipient's outcome; `fallback` stands in for what the group garbles or omits."""
    address = next((a for a in (_recipient(group, name) for name in _RECIPIENT_FIELDS) if a), None)
    status_field = header_text(group, "Status")
    found = STATUS.search(status_field)
    status = ".".join(found.groups()) if found else ""
    diagnostic = header_text(group, "Diagnostic-Code") or fallback.diagnostic
    action = header_text(group, "Action").lower()
    kind = _ACTION_KINDS.get(action.split(" ")[0], _STATUS_KINDS.get(status[:1]))
    kind = kind or FeedbackKind.NOT_BOUNCE
    bounce_type = None
    if kind is not FeedbackKind.NOT_BOUNCE:
        # A "failed" with a 4.x.x status gave up after temporary failures: still transient.
        permanent = kind is FeedbackKind.BOUNCE and is_permanent(status, diagnostic, otherwise=True)
        bounce_type = classify_failure(f"{status_field} {diagnostic}", permanent=permanent)
    return RecipientStatus(
        addresses=(address,) if address else fallback.addresses,
        kind=kind,
        bounce_type=bounce_type,
        action=action,
        status=status,
        diagnostic=diagnostic,
        remote_mta=_typed_value(group, "Remote-MTA"),
    )


def _recipient(group: Message, name: str) -> str:
    # RFC 3464 §2.3.1-2: "address-type ; address", e.g. "rfc822; user@example.com".
    return clean_address(_typed_value(group, name))


def _typed_value(group: Message, name: str) -> str:
    value = header_text(group, name)
    return value.partition(";")[2].strip() if ";" in value else value


def _reports(
    statuses: list[RecipientStatus], message_id: str | None, details: dict[str, str]
) -> tuple[FeedbackReport, ...]:
    """One report per (kind, bounce type); each takes its status and words from its first."""
    groups: dict[tuple[FeedbackKind, BounceType | None], list[RecipientStatus]] = {}
    for status in statuses:
        groups.setdefault((status.kind, status.bounce_type), []).append(status)
    ordered = sorted(groups.values(), key=lambda members: _KIND_ORDER[members[0].kind])
    return tuple(
        FeedbackReport(
            kind=first.kind,
            bounce_type=first.bounce_type,
            recipients=tuple(unique([a for member in members for a in member.addresses])),
            status=first.status,
            diagnostic=first.diagnostic,
            original_message_id=message_id,
            remote_mta=first.remote_mta,
            details={**details, "action": first.action},
        )
        for members in ordered
        for first in members[:1]
    )
