"""Stored messages and events in Postmark's response shapes (reference/postmark-api.md §8)."""

from __future__ import annotations

from typing import Any

from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.records import CapturedMessage, StoredEvent, StoredMessage
from misiva.mail.mime import attachment_names, extract_bodies

# Postmark's outbound Status: a message is "Sent" once processed, whatever its recipients did;
# bounces show as events.
_STATUS = {
    MessageStatus.QUEUED: "Queued",
    MessageStatus.DEFERRED: "Queued",
    MessageStatus.DELIVERED: "Sent",
    MessageStatus.PARTIAL: "Sent",
    MessageStatus.BOUNCED: "Sent",
}
# Postmark's MessageEvents types; `Queued` is Misiva's addition, so the timeline starts at accept.
_EVENT_TYPE = {
    EventType.QUEUED: "Queued",
    EventType.DELIVERED: "Delivered",
    EventType.DEFERRED: "Transient",
    EventType.BOUNCED: "Bounced",
    # Postmark lists complaints and auto-replies as bounces (of those types).
    EventType.COMPLAINED: "Bounced",
    EventType.AUTO_REPLIED: "Bounced",
    EventType.OPENED: "Opened",
    EventType.CLICKED: "LinkClicked",
    EventType.SUBSCRIPTION_CHANGED: "SubscriptionChanged",
}


def _people(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Email": email, "Name": name} for email, name in pairs]


def message_summary(message: StoredMessage) -> dict[str, Any]:
    return {
        "Tag": message.tag or "",
        "MessageID": message.id,
        "MessageStream": message.stream,
        "To": _people(message.to),
        "Cc": _people(message.cc),
        "Bcc": _people(message.bcc),
        "Recipients": list(message.rcpt_state),
        "ReceivedAt": message.accepted_at.isoformat(),
        "From": message.sender,
        "Subject": message.subject,
        "Attachments": attachment_names(message.mime),
        "Status": _STATUS[message.status],
        "TrackOpens": bool(message.track_opens),
        "TrackLinks": message.track_links or "None",
        "Metadata": message.metadata,
        "Sandboxed": False,
    }


def event_json(event: StoredEvent) -> dict[str, Any]:
    details: dict[str, Any]
    if event.type is EventType.QUEUED:
        details = {"Summary": "Accepted and queued for delivery."}
    elif event.type in (EventType.OPENED, EventType.CLICKED, EventType.SUBSCRIPTION_CHANGED):
        details = _activity_details(event)
    else:
        details = {
            "DeliveryMessage": f"smtp;{event.details.get('reply', '')}",
            "DestinationServer": event.details.get("host", ""),
            "DestinationIP": event.details.get("ip", ""),
        }
        if event.type in (EventType.BOUNCED, EventType.COMPLAINED, EventType.AUTO_REPLIED):
            details["BounceID"] = event.details.get("bounce_id", str(event.id))
            details["Type"] = event.details.get("bounce_type", "")
            details["Summary"] = event.details.get("reply") or event.details.get("diagnostic", "")
    return {
        "Recipient": event.recipient,
        "Type": _EVENT_TYPE[event.type],
        "ReceivedAt": event.created_at.isoformat(),
        "Details": details,
    }


def _activity_details(event: StoredEvent) -> dict[str, Any]:
    d = event.details
    if event.type is EventType.OPENED:
        return {
            "Summary": "Opened" + (" (proxy)" if d.get("is_proxy") == "true" else ""),
            "UserAgent": d.get("user_agent", ""),
            "FirstOpen": d.get("first_open") == "true",
        }
    if event.type is EventType.CLICKED:
        return {
            "Summary": "Clicked",
            "Link": d.get("original_link", ""),
            "ClickLocation": d.get("click_location", "HTML"),
            "UserAgent": d.get("user_agent", ""),
            **(
                {"ContentBlockID": int(d["block_id"]), "ContentBlockVariant": d["block_variant"]}
                if "block_id" in d
                else {}
            ),
        }
    return {
        "Origin": d.get("origin", ""),
        "SuppressSending": d.get("suppress_sending") == "true",
        "SuppressionReason": d.get("suppression_reason", ""),
    }


def message_details(message: StoredMessage, events: list[StoredEvent]) -> dict[str, Any]:
    text, html = extract_bodies(message.mime)
    return {
        **message_summary(message),
        "TextBody": text or "",
        "HtmlBody": html or "",
        "Body": message.mime.decode("utf-8", errors="replace"),
        "MessageEvents": [event_json(e) for e in events],
        # Misiva: what the content was rendered from, so the log shows exactly what was sent.
        "TemplateId": message.template_id,
        "TemplateVersion": message.template_version,
        "Locale": message.locale,
    }


def captured_summary(captured: CapturedMessage) -> dict[str, Any]:
    return {
        "ID": captured.id,
        "MessageID": captured.message_id,
        "From": captured.envelope_from,
        "Recipients": captured.recipients,
        "CapturedAt": captured.created_at.isoformat(),
        "Size": len(captured.mime),
    }
