"""django-anymail's Postmark tracking webhook, run in-process, reads every payload Misiva posts.

This is the issue's acceptance check that existing Postmark receivers work unchanged: a
Django project set up as anymail documents it (`path("anymail/", include("anymail.urls"))`,
`ANYMAIL = {"WEBHOOK_SECRET": "user:password"}`) receives our signed, basic-authenticated
requests, and its normalised `tracking` signal carries what the payload said.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import django
import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.conf import settings
from django.test import Client
from django.urls import include, path

from misiva.domain.bounces import BounceType
from misiva.domain.webhooks import RecordType
from misiva.webhooks.payloads import WebhookEvent, build_payload, encode_payload
from misiva.webhooks.signing import new_webhook_secret, signature_headers

# The customer's Django project routes anymail's webhooks here; this module is its URLconf.
urlpatterns = [path("anymail/", include("anymail.urls"))]
TRACKING_URL = "/anymail/postmark/tracking/"
BASIC_AUTH = "misiva:a-long-random-password"

AT = datetime(2026, 11, 22, 10, 30, 5, 123456, tzinfo=UTC)
MESSAGE_ID = "2706ee8a-737c-4285-b032-ccd317af53ed"
METADATA = {"order": "1001", "userid": "12345"}
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
CHROME = {"name": "Chrome 120.0", "company": "Google", "family": "Chrome"}
WINDOWS = {"name": "Windows 10", "company": "Microsoft Corporation", "family": "Windows"}


def _configure_django() -> None:
    # Settings are process-wide and can be configured once; the guard keeps a second
    # configuration (another module, a re-run) from raising.
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="misiva-anymail-acceptance-test",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["anymail"],
        ROOT_URLCONF=__name__,
        # CSRF checks on, as in any real project: anymail's views must exempt themselves.
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        USE_TZ=True,
        ANYMAIL={"WEBHOOK_SECRET": BASIC_AUTH},
    )
    django.setup()


@pytest.fixture(scope="module")
def receiver() -> Client:
    _configure_django()
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def received() -> Iterator[list[AnymailTrackingEvent]]:
    events: list[AnymailTrackingEvent] = []

    def collect(sender: type, event: AnymailTrackingEvent, esp_name: str, **_: Any) -> None:
        assert esp_name == "Postmark"
        events.append(event)

    tracking.connect(collect, weak=False, dispatch_uid="misiva-acceptance")
    yield events
    tracking.disconnect(dispatch_uid="misiva-acceptance")


def _event(record_type: RecordType, tag: str | None = "welcome", **details: Any) -> WebhookEvent:
    return WebhookEvent(
        record_type=record_type,
        event_id=41,
        server_id=23,
        message_id=MESSAGE_ID,
        message_stream="outbound",
        recipient="John.Doe@example.com",
        tag=tag,
        metadata=METADATA,
        occurred_at=AT,
        details=details,
    )


def _post(
    receiver: Client,
    received: list[AnymailTrackingEvent],
    event: WebhookEvent,
    auth: str = BASIC_AUTH,
) -> AnymailTrackingEvent:
    """Post one event as the dispatcher does: JSON body, basic auth, signature headers."""
    body = encode_payload(build_payload(event))
    headers = signature_headers(new_webhook_secret(), f"evt_{event.event_id}_7", AT, body)
    headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    response = receiver.post(TRACKING_URL, body, content_type="application/json", headers=headers)
    assert response.status_code == 200, response.content
    assert len(received) == 1
    normalised = received.pop()
    assert normalised.esp_event == json.loads(body)
    return normalised


def test_delivery_is_read_as_delivered(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    event = _post(receiver, received, _event(RecordType.DELIVERY, reply="250 2.0.0 OK id=1"))
    assert event.event_type == "delivered"
    assert event.recipient == "John.Doe@example.com"
    assert event.message_id == MESSAGE_ID
    assert event.timestamp == AT
    assert event.metadata == METADATA
    assert event.tags == ["welcome"]
    assert event.mta_response == "smtp;250 2.0.0 OK id=1"
    assert event.reject_reason is None


def test_hard_bounce_is_read_as_bounced_with_its_diagnostic(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    diagnostic = "smtp;550 5.1.1 <John.Doe@example.com>: Recipient address rejected"
    event = _post(
        receiver,
        received,
        _event(
            RecordType.BOUNCE, bounce_type="HardBounce", bounce_id=901542550, details=diagnostic
        ),
    )
    assert (event.event_type, event.reject_reason) == ("bounced", "bounced")
    assert event.event_id == "901542550"
    assert event.recipient == "John.Doe@example.com"
    assert event.message_id == MESSAGE_ID
    assert event.timestamp == AT
    assert event.description == BounceType.HARD_BOUNCE.description
    assert event.mta_response == diagnostic
    assert (event.metadata, event.tags) == (METADATA, ["welcome"])


@pytest.mark.parametrize(
    ("bounce_type", "event_type", "reject_reason"),
    [
        (BounceType.SOFT_BOUNCE, "bounced", "bounced"),
        (BounceType.TRANSIENT, "deferred", None),
        (BounceType.DNS_ERROR, "deferred", None),
        (BounceType.AUTO_RESPONDER, "autoresponded", None),
        (BounceType.BLOCKED, "rejected", "blocked"),
        (BounceType.BAD_EMAIL_ADDRESS, "rejected", "invalid"),
        (BounceType.DMARC_POLICY, "rejected", "blocked"),
        (BounceType.SPAM_NOTIFICATION, "complained", "spam"),
        (BounceType.MANUALLY_DEACTIVATED, "rejected", "blocked"),
        (BounceType.UNKNOWN, "unknown", None),
    ],
)
def test_each_bounce_type_is_read_as_anymail_documents_it(
    receiver: Client,
    received: list[AnymailTrackingEvent],
    bounce_type: BounceType,
    event_type: str,
    reject_reason: str | None,
) -> None:
    event = _post(
        receiver, received, _event(RecordType.BOUNCE, bounce_type=bounce_type, bounce_id=1)
    )
    assert (event.event_type, event.reject_reason) == (event_type, reject_reason)


@pytest.mark.parametrize("bounce_type", list(BounceType))
def test_every_bounce_type_is_spelled_as_anymail_knows_it(bounce_type: BounceType) -> None:
    # A misspelt Type would reach the customer as an "unknown" event with no reason.
    assert bounce_type.value in PostmarkTrackingWebhookView.event_types


def test_spam_complaint_is_read_as_complained_spam(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    complaint = _event(RecordType.SPAM_COMPLAINT, bounce_id=77, details="ARF feedback: abuse")
    event = _post(receiver, received, complaint)
    assert (event.event_type, event.reject_reason) == ("complained", "spam")
    assert (event.event_id, event.recipient, event.timestamp) == ("77", complaint.recipient, AT)
    assert event.mta_response == "ARF feedback: abuse"


def test_open_is_read_as_opened_with_the_user_agent(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    opened = _event(
        RecordType.OPEN,
        first_open=True,
        user_agent=UA,
        client=CHROME,
        os=WINDOWS,
        platform="Desktop",
    )
    event = _post(receiver, received, opened)
    assert event.event_type == "opened"
    assert (event.recipient, event.message_id, event.timestamp) == (
        opened.recipient,
        MESSAGE_ID,
        AT,
    )
    assert event.user_agent == UA
    assert (event.metadata, event.tags) == (METADATA, ["welcome"])


def test_click_is_read_as_clicked_with_the_original_link(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    link = "https://shop.test/orders/1001?utm_source=receipt"
    clicked = _event(RecordType.CLICK, original_link=link, user_agent=UA, client=CHROME, os=WINDOWS)
    event = _post(receiver, received, clicked)
    assert event.event_type == "clicked"
    assert event.click_url == link
    assert event.user_agent == UA
    assert (event.recipient, event.message_id, event.timestamp) == (
        clicked.recipient,
        MESSAGE_ID,
        AT,
    )
    assert (event.metadata, event.tags) == (METADATA, ["welcome"])


@pytest.mark.parametrize(
    ("reason", "suppress", "event_type", "reject_reason"),
    [
        ("HardBounce", True, "bounced", "bounced"),
        ("SpamComplaint", True, "complained", "spam"),
        ("ManualSuppression", True, "unsubscribed", "unsubscribed"),
        # A reactivated address: SuppressSending false, SuppressionReason null.
        (None, False, "subscribed", None),
    ],
)
def test_subscription_change_is_read_by_its_suppression_reason(
    receiver: Client,
    received: list[AnymailTrackingEvent],
    reason: str | None,
    suppress: bool,
    event_type: str,
    reject_reason: str | None,
) -> None:
    change = _event(
        RecordType.SUBSCRIPTION_CHANGE, suppress_sending=suppress, suppression_reason=reason
    )
    event = _post(receiver, received, change)
    assert (event.event_type, event.reject_reason) == (event_type, reject_reason)
    assert (event.recipient, event.message_id, event.timestamp) == (
        change.recipient,
        MESSAGE_ID,
        AT,
    )


def test_an_untagged_message_reaches_anymail_as_one_empty_tag(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    # Postmark posts Tag "" for an untagged message and anymail wraps whatever Tag holds
    # in a list, so its receivers see [""] from Postmark itself; we match, not improve.
    event = _post(receiver, received, _event(RecordType.DELIVERY, tag=None, reply="250 OK"))
    assert event.tags == [""]


def test_wrong_basic_auth_is_refused_and_no_event_is_signalled(
    receiver: Client, received: list[AnymailTrackingEvent]
) -> None:
    body = encode_payload(build_payload(_event(RecordType.DELIVERY, reply="250 OK")))
    wrong = "Basic " + base64.b64encode(b"misiva:guess").decode()
    response = receiver.post(
        TRACKING_URL, body, content_type="application/json", headers={"Authorization": wrong}
    )
    assert response.status_code == 400
    assert received == []
