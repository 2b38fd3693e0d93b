"""Standard Webhooks signatures: the spec's test vector, and a check by its own library."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from misiva.webhooks.signing import new_webhook_secret, signature_headers, verify

# The test vector the Standard Webhooks specification publishes (and its libraries test).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_AT = datetime.fromtimestamp(1614265330, tz=UTC)
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = '{"RecordType":"Delivery","Recipient":"josé@example.com"}'.encode()
DELIVERY_ID = "evt_41_7"


def test_headers_reproduce_the_specifications_test_vector() -> None:
    assert signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY) == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_the_spec_vector_verifies_at_its_own_time_and_not_an_hour_later() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT + timedelta(seconds=30))
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT + timedelta(hours=1))
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT - timedelta(hours=1))


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second


def test_the_standardwebhooks_library_verifies_what_we_sign() -> None:
    secret = new_webhook_secret()
    headers = signature_headers(secret, DELIVERY_ID, datetime.now(UTC), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "RecordType": "Delivery",
        "Recipient": "josé@example.com",
    }
    assert verify(secret, headers, BODY)


@pytest.mark.parametrize(
    ("header", "forged"),
    [
        ("webhook-timestamp", lambda value: str(int(value) - 1)),
        ("webhook-id", lambda value: value + "x"),
        ("webhook-signature", lambda value: "v1," + base64.b64encode(b"0" * 32).decode()),
    ],
)
def test_a_changed_header_fails_verification(header: str, forged: Callable[[str], str]) -> None:
    secret = new_webhook_secret()
    headers = signature_headers(secret, DELIVERY_ID, datetime.now(UTC), BODY)
    headers[header] = forged(headers[header])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)
    assert not verify(secret, headers, BODY)


def test_a_changed_body_fails_verification() -> None:
    secret = new_webhook_secret()
    headers = signature_headers(secret, DELIVERY_ID, datetime.now(UTC), BODY)
    tampered = BODY.replace(b"Delivery", b"Bounce")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    assert not verify(secret, headers, tampered)


def test_another_webhooks_secret_fails_verification() -> None:
    headers = signature_headers(new_webhook_secret(), DELIVERY_ID, datetime.now(UTC), BODY)
    assert not verify(new_webhook_secret(), headers, BODY)


def test_retries_keep_the_idempotency_key_and_are_signed_anew() -> None:
    secret = new_webhook_secret()
    first = signature_headers(secret, DELIVERY_ID, SPEC_AT, BODY)
    retry = signature_headers(secret, DELIVERY_ID, SPEC_AT + timedelta(minutes=10), BODY)
    assert first["webhook-id"] == retry["webhook-id"] == DELIVERY_ID
    assert first["webhook-signature"] != retry["webhook-signature"]


def test_a_time_in_another_zone_is_signed_as_the_same_instant() -> None:
    in_bogota = SPEC_AT.astimezone(timezone(timedelta(hours=-5)))
    assert signature_headers(SPEC_SECRET, SPEC_ID, in_bogota, SPEC_BODY) == signature_headers(
        SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signature_headers(SPEC_SECRET, SPEC_ID, datetime(2026, 11, 22, 10, 0), SPEC_BODY)


def test_header_names_are_matched_case_insensitively() -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY)
    shouted = {name.title(): value for name, value in headers.items()}
    assert verify(SPEC_SECRET, shouted, SPEC_BODY, now=SPEC_AT)


def test_any_listed_signature_may_match_as_during_a_secret_rotation() -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY)
    old = signature_headers(new_webhook_secret(), SPEC_ID, SPEC_AT, SPEC_BODY)
    headers["webhook-signature"] = f"{old['webhook-signature']} {headers['webhook-signature']}"
    assert verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT)
    headers["webhook-signature"] = "v2," + SPEC_SIGNATURE.removeprefix("v1,")
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_fails_verification(missing: str) -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY)
    del headers[missing]
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT)


@pytest.mark.parametrize("timestamp", ["", "soon", "1614265330.5", "9" * 30])
def test_a_malformed_timestamp_fails_verification(timestamp: str) -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY)
    headers["webhook-timestamp"] = timestamp
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_AT)


def test_a_body_that_is_not_utf8_fails_verification() -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_AT, SPEC_BODY)
    assert not verify(SPEC_SECRET, headers, b"\xff" + SPEC_BODY, now=SPEC_AT)


def test_an_empty_secret_is_a_mistake_not_a_failed_check() -> None:
    with pytest.raises(ValueError, match="empty"):
        signature_headers("whsec_", SPEC_ID, SPEC_AT, SPEC_BODY)
