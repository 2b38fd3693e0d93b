"""Postmark's webhook payloads: one builder per record type, chosen from one explicit table.

Each builder turns a `WebhookEvent` into the exact JSON object Postmark posts for that record
type (reference/postmark-api.md §6 and §9), so that existing receivers, django-anymail's
Postmark tracking webhook among them, read Misiva's webhooks unchanged.

What each record type reads from `WebhookEvent.details` (defaults in brackets):

* Delivery: `reply` (the receiving server's reply, e.g. "250 2.0.0 OK").
* Bounce: `bounce_type` (a BounceType value), `bounce_id` (int), `description` [the
  type's description], `details` (the diagnostic) [""], `from` [""], `subject` [""],
  `inactive` [the type deactivates], `can_activate` [true], `dump_available` [false],
  `content` (raw bounce, only when the webhook includes content) [absent].
* SpamComplaint: as Bounce, but the type is always SpamComplaint, `inactive` [true] and
  `can_activate` [false].
* Open: `first_open` [false], `user_agent` [""], `client` and `os` ({name, company, family})
  [unknown], `platform` [Unknown], `read_seconds` [0], `geo` [{}]. `is_proxy` is Misiva's
  own and has no Postmark field, so it is not posted.
* Click: `original_link`, `click_location` ("HTML" | "Text") [HTML], `user_agent`,
  `client`, `os`, `platform`, `geo` as for Open.
* SubscriptionChange: `origin` ("Recipient" | "Customer" | "Admin") [Recipient],
  `suppress_sending` [true], `suppression_reason` ("HardBounce" | "SpamComplaint" |
  "ManualSuppression", or None when the address is reactivated) [None].
* DomainCheckFailed (Misiva's own): `domain`, `record` (dkim | spf | dmarc | return-path),
  `host`, `type`, `status`, `previous_status`, `problem`, `fix`, `expected` [""],
  `found` (a list of strings) [[]].
* Alert (Misiva's own): `alert_id`, `state` (open | resolved), `level` (warning | danger),
  `metric`, `scope` (server | stream | provider | domain | pool | trigger), `subject`,
  `window`, `value`, `threshold`, `volume` (numbers as text, as every event detail is kept),
  `summary`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from misiva.domain.bounces import BounceType
from misiva.domain.enums import EventType
from misiva.domain.webhooks import RECORD_TYPES, RecordType

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event as a webhook reports it: what every payload needs, plus per-type details."""

    record_type: RecordType
    event_id: int
    server_id: int
    # None for an address's subscription change that no message caused.
    message_id: str | None
    message_stream: str
    recipient: str
    tag: str | None
    metadata: dict[str, str]
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A naive datetime has no instant; guessing its zone would shift every timestamp.
        if self.occurred_at.utcoffset() is None:
            raise ValueError(f"webhook event {self.event_id}: occurred_at must be timezone-aware")


class PayloadBuilder(Protocol):
    """Turns one event into the JSON object Postmark posts for its record type."""

    def __call__(self, event: WebhookEvent) -> Payload: ...


def build_payload(event: WebhookEvent) -> Payload:
    """The exact Postmark JSON object for this event."""
    return BUILDERS[event.record_type](event)


def encode_payload(payload: Payload) -> bytes:
    """The request body: compact UTF-8 JSON, the very bytes that are signed and posted."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def record_type_for(
    event_type: EventType, bounce_type: BounceType | None = None
) -> RecordType | None:
    """Which webhook an event type triggers, or None for the ones Postmark never posts."""
    if event_type is EventType.BOUNCED and bounce_type is BounceType.SPAM_COMPLAINT:
        return RecordType.SPAM_COMPLAINT
    return RECORD_TYPES.get(event_type)


# --- one builder per record type ------------------------------------------------------------


def delivery_payload(event: WebhookEvent) -> Payload:
    """Delivery: the receiving server accepted the message for this recipient."""
    return {
        "RecordType": RecordType.DELIVERY.value,
        "ServerID": event.server_id,
        "MessageStream": event.message_stream,
        "MessageID": event.message_id,
        "Recipient": event.recipient,
        "Tag": _tag(event),
        "DeliveredAt": iso_timestamp(event.occurred_at),
        "Details": smtp_details(_text(event, "reply")),
        "Metadata": dict(event.metadata),
    }


def bounce_payload(event: WebhookEvent) -> Payload:
    """Bounce: the bounce object of the bounces API, plus RecordType and Metadata."""
    bounce_type = _bounce_type(event)
    return _bounce_record(
        event,
        RecordType.BOUNCE,
        bounce_type,
        inactive=_flag(event, "inactive", bounce_type.deactivates),
        can_activate=_flag(event, "can_activate", True),
    )


def spam_complaint_payload(event: WebhookEvent) -> Payload:
    """SpamComplaint: a bounce record of Type SpamComplaint; the address is now inactive."""
    # Postmark does not let a complained-about address be reactivated by the sender.
    return _bounce_record(
        event,
        RecordType.SPAM_COMPLAINT,
        BounceType.SPAM_COMPLAINT,
        inactive=_flag(event, "inactive", True),
        can_activate=_flag(event, "can_activate", False),
    )


def open_payload(event: WebhookEvent) -> Payload:
    """Open: the tracking pixel was fetched."""
    return {
        "RecordType": RecordType.OPEN.value,
        "MessageStream": event.message_stream,
        "Metadata": dict(event.metadata),
        "FirstOpen": _flag(event, "first_open", False),
        **_reader_fields(event),
        "ReadSeconds": _number(event, "read_seconds", 0),
        "MessageID": event.message_id,
        "ReceivedAt": iso_timestamp(event.occurred_at),
        "Tag": _tag(event),
        "Recipient": event.recipient,
    }


def click_payload(event: WebhookEvent) -> Payload:
    """Click: a tracked link was followed."""
    return {
        "RecordType": RecordType.CLICK.value,
        "MessageStream": event.message_stream,
        "Metadata": dict(event.metadata),
        "Recipient": event.recipient,
        "MessageID": event.message_id,
        "ReceivedAt": iso_timestamp(event.occurred_at),
        "ClickLocation": _text(event, "click_location", "HTML"),
        "OriginalLink": _text(event, "original_link"),
        "Tag": _tag(event),
        **_reader_fields(event),
    }


def subscription_change_payload(event: WebhookEvent) -> Payload:
    """SubscriptionChange: the address was added to or removed from the suppression list."""
    reason = event.details.get("suppression_reason")
    if reason is not None and not isinstance(reason, str):
        raise _bad_detail(event, "suppression_reason", "a string or None", reason)
    return {
        "RecordType": RecordType.SUBSCRIPTION_CHANGE.value,
        "MessageID": event.message_id,
        "ServerID": event.server_id,
        "MessageStream": event.message_stream,
        "ChangedAt": iso_timestamp(event.occurred_at),
        "Recipient": event.recipient,
        "Origin": _text(event, "origin", "Recipient"),
        "SuppressSending": _flag(event, "suppress_sending", True),
        # None (JSON null) when SuppressSending is false, as Postmark posts a reactivation.
        "SuppressionReason": reason,
        "Tag": _tag(event),
        "Metadata": dict(event.metadata),
    }


def domain_check_failed_payload(event: WebhookEvent) -> Payload:
    """DomainCheckFailed: a DNS record of a sending domain passed before and fails now."""
    found = event.details.get("found") or []
    if not isinstance(found, list):
        raise _bad_detail(event, "found", "a list", found)
    return {
        "RecordType": RecordType.DOMAIN_CHECK_FAILED.value,
        "ServerID": event.server_id,
        "Domain": _text(event, "domain"),
        "Record": _text(event, "record"),
        "Host": _text(event, "host"),
        "Type": _text(event, "type"),
        "Status": _text(event, "status"),
        "PreviousStatus": _text(event, "previous_status"),
        "Problem": _text(event, "problem"),
        "Fix": _text(event, "fix"),
        "Expected": _text(event, "expected", ""),
        "Found": [str(value) for value in found],
        "CheckedAt": iso_timestamp(event.occurred_at),
    }


def alert_payload(event: WebhookEvent) -> Payload:
    """Alert: a sending-health measure crossed its warning level (State "open") or has
    stayed under it for a window (State "resolved")."""
    return {
        "RecordType": RecordType.ALERT.value,
        "ServerID": event.server_id,
        "AlertID": int(_text(event, "alert_id")),
        "State": _text(event, "state"),
        "Level": _text(event, "level"),
        "Metric": _text(event, "metric"),
        "Scope": _text(event, "scope"),
        "Subject": _text(event, "subject", ""),
        "Window": _text(event, "window"),
        "Value": float(_text(event, "value")),
        "Threshold": float(_text(event, "threshold")),
        "Volume": int(_text(event, "volume")),
        "Summary": _text(event, "summary", ""),
        "OccurredAt": iso_timestamp(event.occurred_at),
    }


BUILDERS: Mapping[RecordType, PayloadBuilder] = {
    RecordType.DELIVERY: delivery_payload,
    RecordType.BOUNCE: bounce_payload,
    RecordType.SPAM_COMPLAINT: spam_complaint_payload,
    RecordType.OPEN: open_payload,
    RecordType.CLICK: click_payload,
    RecordType.SUBSCRIPTION_CHANGE: subscription_change_payload,
    RecordType.DOMAIN_CHECK_FAILED: domain_check_failed_payload,
    RecordType.ALERT: alert_payload,
}


# --- fields shared by several record types --------------------------------------------------


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and an offset: 2026-11-22T10:00:00.000000+00:00.

    "+00:00" rather than Postmark's "Z": every ISO parser reads it, including Python's
    datetime.fromisoformat before 3.11, and django's parse_datetime (what anymail uses).
    """
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def smtp_details(reply: str) -> str:
    """The receiving server's reply as Postmark reports it: "smtp;250 2.0.0 OK"."""
    reply = reply.strip()
    return reply if reply.lower().startswith("smtp;") else f"smtp;{reply}"


def _bounce_record(
    event: WebhookEvent,
    record_type: RecordType,
    bounce_type: BounceType,
    *,
    inactive: bool,
    can_activate: bool,
) -> Payload:
    """The bounce object of reference §6, which Bounce and SpamComplaint both post."""
    payload: Payload = {
        "RecordType": record_type.value,
        "ID": _number(event, "bounce_id"),
        "Type": bounce_type.value,
        "TypeCode": bounce_type.type_code,
        "Name": bounce_type.display_name,
        "Tag": _tag(event),
        "MessageID": event.message_id,
        "ServerID": event.server_id,
        "MessageStream": event.message_stream,
        "Description": _text(event, "description", bounce_type.description),
        "Details": _text(event, "details", ""),
        "Email": event.recipient,
        "From": _text(event, "from", ""),
        "BouncedAt": iso_timestamp(event.occurred_at),
        "DumpAvailable": _flag(event, "dump_available", False),
        "Inactive": inactive,
        "CanActivate": can_activate,
        "Subject": _text(event, "subject", ""),
        "Metadata": dict(event.metadata),
    }
    # Postmark adds Content only when the webhook's trigger has IncludeContent on.
    if event.details.get("content") is not None:
        payload["Content"] = _text(event, "content")
    return payload


def _reader_fields(event: WebhookEvent) -> Payload:
    """What Open and Click say about the reader's software, from the parsed user agent."""
    geo = event.details.get("geo") or {}
    if not isinstance(geo, dict):
        raise _bad_detail(event, "geo", "a mapping", geo)
    return {
        "Client": _software(event, "client"),
        "OS": _software(event, "os"),
        "Platform": _text(event, "platform", "Unknown"),
        "UserAgent": _text(event, "user_agent", ""),
        # Misiva has no GeoIP database, so Geo is the empty object Postmark sends when
        # it cannot place an address; the field stays, so receivers that read it still work.
        "Geo": dict(geo),
    }


def _software(event: WebhookEvent, key: str) -> dict[str, str]:
    """A {Name, Company, Family} object; "unknown" is what Postmark posts for unparsed agents."""
    part = event.details.get(key) or {}
    if not isinstance(part, dict):
        raise _bad_detail(event, key, "a mapping", part)
    return {
        "Name": str(part.get("name") or "unknown"),
        "Company": str(part.get("company") or "unknown"),
        "Family": str(part.get("family") or "unknown"),
    }


def _bounce_type(event: WebhookEvent) -> BounceType:
    value = _text(event, "bounce_type")
    try:
        return BounceType(value)
    except ValueError:
        raise _bad_detail(event, "bounce_type", "a BounceType value", value) from None


def _tag(event: WebhookEvent) -> str:
    # Postmark's Tag is a string in every payload; an untagged message has the empty one.
    return event.tag or ""


# --- reading details with their types checked -----------------------------------------------

_MISSING: Any = object()


def _text(event: WebhookEvent, key: str, default: str = _MISSING) -> str:
    value = _detail(event, key, default)
    if not isinstance(value, str):
        raise _bad_detail(event, key, "a string", value)
    return value


def _flag(event: WebhookEvent, key: str, default: bool = _MISSING) -> bool:
    value = _detail(event, key, default)
    if not isinstance(value, bool):
        raise _bad_detail(event, key, "a bool", value)
    return value


def _number(event: WebhookEvent, key: str, default: int = _MISSING) -> int:
    value = _detail(event, key, default)
    # bool is an int to Python, but True is not a bounce ID.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad_detail(event, key, "an integer", value)
    return value


def _detail(event: WebhookEvent, key: str, default: Any) -> Any:
    value = event.details.get(key)
    if value is not None:
        return value
    if default is _MISSING:
        raise ValueError(
            f"{event.record_type} webhook event {event.event_id}: details[{key!r}] is required"
        )
    return default


def _bad_detail(event: WebhookEvent, key: str, expected: str, value: object) -> ValueError:
    return ValueError(
        f"{event.record_type} webhook event {event.event_id}: details[{key!r}] must be "
        f"{expected}, not {value!r}"
    )
