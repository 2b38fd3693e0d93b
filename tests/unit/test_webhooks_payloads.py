"""Postmark's webhook payloads: exact field sets, values and formats for every record type."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from misiva.domain.bounces import BounceType
from misiva.domain.enums import EventType
from misiva.domain.webhooks import RecordType
from misiva.webhooks.payloads import (
    BUILDERS,
    WebhookEvent,
    build_payload,
    encode_payload,
    iso_timestamp,
    record_type_for,
    smtp_details,
)

AT = datetime(2026, 11, 22, 10, 30, 5, 123456, tzinfo=UTC)
AT_TEXT = "2026-11-22T10:30:05.123456+00:00"
MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"

# The field lists of reference/postmark-api.md §9 (Bounce and SpamComplaint: §6's bounce
# object plus RecordType and Metadata; Content only when the webhook includes content).
BOUNCE_KEYS = {
    "RecordType", "ID", "Type", "TypeCode", "Name", "Tag", "MessageID", "ServerID",
    "MessageStream", "Description", "Details", "Email", "From", "BouncedAt", "DumpAvailable",
    "Inactive", "CanActivate", "Subject", "Metadata",
}  # fmt: skip
REFERENCE_KEYS = {
    RecordType.DELIVERY: {
        "RecordType", "ServerID", "MessageStream", "MessageID", "Recipient", "Tag",
        "DeliveredAt", "Details", "Metadata",
    },
    RecordType.BOUNCE: BOUNCE_KEYS,
    RecordType.SPAM_COMPLAINT: BOUNCE_KEYS,
    RecordType.OPEN: {
        "RecordType", "MessageStream", "Metadata", "FirstOpen", "Client", "OS", "Platform",
        "UserAgent", "ReadSeconds", "Geo", "MessageID", "ReceivedAt", "Tag", "Recipient",
    },
    RecordType.CLICK: {
        "RecordType", "MessageStream", "Metadata", "Recipient", "MessageID", "ReceivedAt",
        "Platform", "ClickLocation", "OriginalLink", "Tag", "UserAgent", "OS", "Client", "Geo",
    },
    RecordType.SUBSCRIPTION_CHANGE: {
        "RecordType", "MessageID", "ServerID", "MessageStream", "ChangedAt", "Recipient",
        "Origin", "SuppressSending", "SuppressionReason", "Tag", "Metadata",
    },
    # Misiva's own record type (docs/deliverability-domains.md).
    RecordType.DOMAIN_CHECK_FAILED: {
        "RecordType", "ServerID", "Domain", "Record", "Host", "Type", "Status",
        "PreviousStatus", "Problem", "Fix", "Expected", "Found", "CheckedAt",
    },
    # Misiva's own record type (docs/deliverability-monitoring.md).
    RecordType.ALERT: {
        "RecordType", "ServerID", "AlertID", "State", "Level", "Metric", "Scope", "Subject",
        "Window", "Value", "Threshold", "Volume", "Summary", "OccurredAt",
    },
}  # fmt: skip

CHROME = {"name": "Chrome 35.0.1916.153", "company": "Google", "family": "Chrome"}
LION = {"name": "OS X 10.7 Lion", "company": "Apple Computer, Inc.", "family": "OS X 10"}
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 Chrome/35.0"

# The least each record type needs in its details.
MINIMAL_DETAILS: dict[RecordType, dict[str, Any]] = {
    RecordType.DELIVERY: {"reply": "250 2.0.0 OK"},
    RecordType.BOUNCE: {"bounce_type": "HardBounce", "bounce_id": 7},
    RecordType.SPAM_COMPLAINT: {"bounce_id": 8},
    RecordType.OPEN: {},
    RecordType.CLICK: {"original_link": "https://shop.test/a"},
    RecordType.SUBSCRIPTION_CHANGE: {"suppression_reason": "HardBounce"},
    RecordType.DOMAIN_CHECK_FAILED: {
        "domain": "shop.test",
        "record": "dkim",
        "host": "misiva20261122._domainkey.shop.test",
        "type": "TXT",
        "status": "fail",
        "previous_status": "pass",
        "problem": "The DKIM key is not published.",
        "fix": "Publish the TXT record.",
    },
    RecordType.ALERT: {
        "alert_id": "5",
        "state": "open",
        "level": "danger",
        "metric": "complaint_rate",
        "scope": "provider",
        "subject": "google",
        "window": "24h",
        "value": "0.004",
        "threshold": "0.003",
        "volume": "5000",
    },
}


def _event(record_type: RecordType, tag: str | None = "welcome", **details: Any) -> WebhookEvent:
    return WebhookEvent(
        record_type=record_type,
        event_id=41,
        server_id=23,
        message_id=MESSAGE_ID,
        message_stream="outbound",
        recipient="john@example.com",
        tag=tag,
        metadata={"cohort": "2026-11", "userid": "12345"},
        occurred_at=AT,
        details=details,
    )


def test_the_table_has_one_builder_for_every_record_type() -> None:
    assert set(BUILDERS) == set(RecordType)


@pytest.mark.parametrize("record_type", list(RecordType))
def test_each_payload_has_exactly_the_reference_fields(record_type: RecordType) -> None:
    payload = build_payload(_event(record_type, **MINIMAL_DETAILS[record_type]))
    assert set(payload) == REFERENCE_KEYS[record_type]
    assert payload["RecordType"] == record_type.value


@pytest.mark.parametrize("record_type", list(RecordType))
def test_each_payload_survives_a_json_round_trip_unchanged(record_type: RecordType) -> None:
    payload = build_payload(_event(record_type, **MINIMAL_DETAILS[record_type]))
    assert json.loads(encode_payload(payload)) == payload


def test_delivery_reports_the_receiving_servers_reply_as_postmark_does() -> None:
    assert build_payload(_event(RecordType.DELIVERY, reply="250 2.0.0 OK id=1a2b")) == {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": MESSAGE_ID,
        "Recipient": "john@example.com",
        "Tag": "welcome",
        "DeliveredAt": AT_TEXT,
        "Details": "smtp;250 2.0.0 OK id=1a2b",
        "Metadata": {"cohort": "2026-11", "userid": "12345"},
    }


def test_a_reply_already_in_postmarks_form_is_not_prefixed_twice() -> None:
    assert smtp_details("smtp;250 2.0.0 OK") == "smtp;250 2.0.0 OK"
    assert smtp_details(" 250 OK\r\n") == "smtp;250 OK"


def test_hard_bounce_is_the_bounce_object_with_record_type_and_metadata() -> None:
    event = _event(
        RecordType.BOUNCE,
        bounce_type=BounceType.HARD_BOUNCE,
        bounce_id=723626745,
        details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        **{"from": "sender@shop.test"},
        subject="Your receipt",
        dump_available=True,
    )
    assert build_payload(event) == {
        "RecordType": "Bounce",
        "ID": 723626745,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "welcome",
        "MessageID": MESSAGE_ID,
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "john@example.com",
        "From": "sender@shop.test",
        "BouncedAt": AT_TEXT,
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your receipt",
        "Metadata": {"cohort": "2026-11", "userid": "12345"},
    }


def test_soft_bounce_leaves_the_address_active() -> None:
    payload = build_payload(_event(RecordType.BOUNCE, bounce_type="SoftBounce", bounce_id=9))
    assert (payload["Type"], payload["TypeCode"], payload["Name"]) == (
        "SoftBounce",
        4096,
        "Soft bounce",
    )
    assert payload["Inactive"] is False
    assert payload["CanActivate"] is True


def test_bounce_content_is_posted_only_when_given() -> None:
    with_content = _event(RecordType.BOUNCE, bounce_type="HardBounce", bounce_id=1, content="raw")
    assert build_payload(with_content)["Content"] == "raw"
    without = _event(RecordType.BOUNCE, bounce_type="HardBounce", bounce_id=1, content=None)
    assert "Content" not in build_payload(without)


def test_spam_complaint_is_type_100001_inactive_and_not_reactivatable() -> None:
    payload = build_payload(_event(RecordType.SPAM_COMPLAINT, bounce_id=5, details="ARF report"))
    assert payload["RecordType"] == "SpamComplaint"
    assert (payload["Type"], payload["TypeCode"]) == ("SpamComplaint", 100001)
    assert (payload["Inactive"], payload["CanActivate"]) == (True, False)
    assert payload["Description"] == BounceType.SPAM_COMPLAINT.description


def test_open_reports_the_readers_software_and_an_empty_geo() -> None:
    event = _event(
        RecordType.OPEN,
        first_open=True,
        user_agent=UA,
        client=CHROME,
        os=LION,
        platform="Desktop",
        read_seconds=5,
        is_proxy=False,
    )
    assert build_payload(event) == {
        "RecordType": "Open",
        "MessageStream": "outbound",
        "Metadata": {"cohort": "2026-11", "userid": "12345"},
        "FirstOpen": True,
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
        "Platform": "Desktop",
        "UserAgent": UA,
        "ReadSeconds": 5,
        "Geo": {},
        "MessageID": MESSAGE_ID,
        "ReceivedAt": AT_TEXT,
        "Tag": "welcome",
        "Recipient": "john@example.com",
    }


def test_an_unparsed_user_agent_reads_unknown_as_in_postmarks_own_examples() -> None:
    payload = build_payload(_event(RecordType.OPEN))
    unknown = {"Name": "unknown", "Company": "unknown", "Family": "unknown"}
    assert (payload["Client"], payload["OS"], payload["Platform"]) == (unknown, unknown, "Unknown")
    assert (payload["FirstOpen"], payload["ReadSeconds"], payload["UserAgent"]) == (False, 0, "")


def test_click_reports_the_original_link_and_where_it_was() -> None:
    event = _event(
        RecordType.CLICK,
        original_link="https://shop.test/orders/1?utm=x",
        click_location="Text",
        user_agent=UA,
        client=CHROME,
        os=LION,
        platform="Desktop",
    )
    payload = build_payload(event)
    assert payload["OriginalLink"] == "https://shop.test/orders/1?utm=x"
    assert payload["ClickLocation"] == "Text"
    assert payload["UserAgent"] == UA
    assert payload["Client"]["Family"] == "Chrome"
    assert (payload["ReceivedAt"], payload["Geo"]) == (AT_TEXT, {})


def test_subscription_change_matches_postmarks_documented_example() -> None:
    # reference §9's verbatim example, except that our ChangedAt carries "+00:00" for "Z".
    event = WebhookEvent(
        record_type=RecordType.SUBSCRIPTION_CHANGE,
        event_id=1,
        server_id=123456,
        message_id=MESSAGE_ID,
        message_stream="outbound",
        recipient="bounced-address@wildbit.com",
        tag="my-tag",
        metadata={"example": "value", "example_2": "value"},
        occurred_at=datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=UTC),
        details={
            "origin": "Recipient",
            "suppress_sending": True,
            "suppression_reason": "HardBounce",
        },
    )
    assert build_payload(event) == {
        "RecordType": "SubscriptionChange",
        "MessageID": MESSAGE_ID,
        "ServerID": 123456,
        "MessageStream": "outbound",
        "ChangedAt": "2020-02-01T10:53:34.416071+00:00",
        "Recipient": "bounced-address@wildbit.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "HardBounce",
        "Tag": "my-tag",
        "Metadata": {"example": "value", "example_2": "value"},
    }


def test_a_reactivation_posts_suppress_sending_false_and_a_null_reason() -> None:
    payload = build_payload(
        _event(RecordType.SUBSCRIPTION_CHANGE, origin="Customer", suppress_sending=False)
    )
    assert (payload["SuppressSending"], payload["SuppressionReason"]) == (False, None)
    assert payload["Origin"] == "Customer"


# Record types about a message; a domain's check has no message and so no Tag.
@pytest.mark.parametrize(
    "record_type", [t for t in RecordType if "Tag" in REFERENCE_KEYS.get(t, {"Tag"})]
)
def test_an_untagged_message_posts_an_empty_tag(record_type: RecordType) -> None:
    payload = build_payload(_event(record_type, tag=None, **MINIMAL_DETAILS[record_type]))
    assert payload["Tag"] == ""


def test_timestamps_are_utc_with_an_explicit_offset_and_microseconds() -> None:
    in_bogota = datetime(2026, 11, 22, 5, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_timestamp(in_bogota) == "2026-11-22T10:30:00.000000+00:00"
    assert datetime.fromisoformat(iso_timestamp(in_bogota)) == in_bogota


def test_a_naive_occurrence_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        WebhookEvent(
            record_type=RecordType.DELIVERY,
            event_id=1,
            server_id=1,
            message_id=MESSAGE_ID,
            message_stream="outbound",
            recipient="a@b.test",
            tag=None,
            metadata={},
            occurred_at=datetime(2026, 11, 22, 10, 0),
        )


def test_metadata_is_copied_not_shared_with_the_event() -> None:
    event = _event(RecordType.DELIVERY, reply="250 OK")
    build_payload(event)["Metadata"]["cohort"] = "changed"
    assert event.metadata["cohort"] == "2026-11"


@pytest.mark.parametrize(
    ("record_type", "details", "complaint"),
    [
        (RecordType.DELIVERY, {}, "details['reply'] is required"),
        (RecordType.BOUNCE, {"bounce_id": 1}, "details['bounce_type'] is required"),
        (RecordType.BOUNCE, {"bounce_type": "Bouncy", "bounce_id": 1}, "a BounceType value"),
        (RecordType.BOUNCE, {"bounce_type": "HardBounce", "bounce_id": True}, "an integer"),
        (RecordType.BOUNCE, {"bounce_type": "HardBounce", "bounce_id": "1"}, "an integer"),
        (RecordType.OPEN, {"first_open": "yes"}, "a bool"),
        (RecordType.OPEN, {"client": "Chrome"}, "a mapping"),
        (RecordType.CLICK, {}, "details['original_link'] is required"),
        (RecordType.SUBSCRIPTION_CHANGE, {"suppression_reason": 3}, "a string or None"),
    ],
)
def test_malformed_details_are_refused_naming_the_field(
    record_type: RecordType, details: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        build_payload(_event(record_type, **details))


@pytest.mark.parametrize(
    ("event_type", "bounce_type", "record_type"),
    [
        (EventType.DELIVERED, None, RecordType.DELIVERY),
        (EventType.BOUNCED, BounceType.HARD_BOUNCE, RecordType.BOUNCE),
        (EventType.BOUNCED, BounceType.SPAM_COMPLAINT, RecordType.SPAM_COMPLAINT),
        (EventType.AUTO_REPLIED, BounceType.AUTO_RESPONDER, RecordType.BOUNCE),
        (EventType.COMPLAINED, None, RecordType.SPAM_COMPLAINT),
        (EventType.OPENED, None, RecordType.OPEN),
        (EventType.CLICKED, None, RecordType.CLICK),
        (EventType.SUBSCRIPTION_CHANGED, None, RecordType.SUBSCRIPTION_CHANGE),
        (EventType.QUEUED, None, None),
        (EventType.DEFERRED, None, None),
    ],
)
def test_which_webhook_each_event_type_triggers(
    event_type: EventType, bounce_type: BounceType | None, record_type: RecordType | None
) -> None:
    assert record_type_for(event_type, bounce_type) is record_type
