"""From stored rows to a WebhookEvent: what the dispatcher posts for one outbox delivery."""

from __future__ import annotations

from typing import Any

from misiva.domain.enums import EventType
from misiva.domain.records import StoredEvent, StoredMessage
from misiva.domain.webhooks import RecordType
from misiva.webhooks.payloads import WebhookEvent

_AGENT_KEYS = ("name", "company", "family")


def webhook_event(
    record_type: str, event: StoredEvent, message: StoredMessage | None
) -> WebhookEvent:
    return WebhookEvent(
        record_type=RecordType(record_type),
        event_id=event.id,
        server_id=message.server_id if message else event.server_id,
        message_id=event.message_id,
        message_stream=event.details.get("stream") or (message.stream if message else "outbound"),
        recipient=event.recipient,
        tag=message.tag if message else None,
        metadata=message.metadata if message else {},
        occurred_at=event.created_at,
        details=_details(event, message),
    )


def _details(event: StoredEvent, message: StoredMessage | None) -> dict[str, Any]:
    d = event.details
    if event.type is EventType.DELIVERED:
        return {"reply": d.get("reply", "")}
    if event.type in (EventType.BOUNCED, EventType.COMPLAINED, EventType.AUTO_REPLIED):
        return {
            "bounce_type": d.get("bounce_type", "HardBounce"),
            "bounce_id": int(d.get("bounce_id", event.id)),
            "details": d.get("reply") or d.get("diagnostic", ""),
            "from": message.sender if message else "",
            "subject": message.subject if message else "",
            "dump_available": d.get("dump_available") == "true",
        }
    if event.type in (EventType.OPENED, EventType.CLICKED):
        reader = {
            "user_agent": d.get("user_agent", ""),
            "client": {k: d.get(f"client_{k}", "") for k in _AGENT_KEYS},
            "os": {k: d.get(f"os_{k}", "") for k in _AGENT_KEYS},
            "platform": d.get("platform", "Unknown"),
            "geo": {},
        }
        if event.type is EventType.OPENED:
            return {
                **reader,
                "first_open": d.get("first_open") == "true",
                "read_seconds": 0,
                "is_proxy": d.get("is_proxy") == "true",
            }
        return {
            **reader,
            "original_link": d.get("original_link", ""),
            "click_location": d.get("click_location", "HTML"),
        }
    if event.type is EventType.ALERT:
        return dict(d)
    if event.type is EventType.DOMAIN_CHECK_FAILED:
        # Stored as text like every event detail; the found values one per line.
        return {**d, "found": [v for v in d.get("found", "").split("\n") if v]}
    suppress = d.get("suppress_sending") == "true"
    return {
        "origin": d.get("origin", "Recipient"),
        "suppress_sending": suppress,
        # Postmark posts a reactivation (a confirmed subscription) with no reason.
        "suppression_reason": d.get("suppression_reason", "HardBounce") if suppress else None,
    }
