"""Consent tokens (unsubscribe, preferences, opt-in confirmation) verify only as signed, for
their own purpose, and never raise on what a stranger sends."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from misiva.tracking.consent_tokens import (
    ConsentLinks,
    ConsentToken,
    LinkPurpose,
    peek_server_id,
    sign_consent_token,
    verify_consent_token,
)
from misiva.tracking.tokens import TrackingToken, sign_token

SECRET = b"server-one-secret-32-bytes-long!"
OTHER = b"server-two-secret-32-bytes-long!"
MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
EXPIRES = datetime(2026, 12, 8, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "token",
    [
        ConsentToken(LinkPurpose.UNSUBSCRIBE, 1, "ana@example.com", "broadcast", MESSAGE_ID),
        ConsentToken(LinkPurpose.UNSUBSCRIBE, 1, "ana@example.com", "broadcast"),
        ConsentToken(LinkPurpose.PREFERENCES, 70000, "zoë@exämple.com"),
        ConsentToken(LinkPurpose.CONFIRM, 3, "a" * 200 + "@example.com", "news", None, EXPIRES),
    ],
)
def test_a_signed_token_verifies_to_the_same_fields(token: ConsentToken) -> None:
    value = sign_consent_token(token, SECRET)
    assert verify_consent_token(value, SECRET, token.purpose) == token
    assert peek_server_id(value) == token.server_id


def test_a_token_is_for_its_purpose_and_its_server_only() -> None:
    value = sign_consent_token(ConsentToken(LinkPurpose.CONFIRM, 1, "a@x.test", "news"), SECRET)
    assert verify_consent_token(value, SECRET, LinkPurpose.UNSUBSCRIBE) is None
    assert verify_consent_token(value, OTHER, LinkPurpose.CONFIRM) is None
    assert verify_consent_token(value, None, LinkPurpose.CONFIRM) is None


def test_every_altered_character_is_refused() -> None:
    value = sign_consent_token(
        ConsentToken(LinkPurpose.UNSUBSCRIBE, 1, "ana@example.com", "broadcast", MESSAGE_ID), SECRET
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position in range(len(value)):
        for replacement in {alphabet[(alphabet.index(value[position]) + 1) % 64], "A"}:
            altered = value[:position] + replacement + value[position + 1 :]
            if altered != value:
                assert verify_consent_token(altered, SECRET, LinkPurpose.UNSUBSCRIBE) is None


def test_a_tracking_token_is_no_consent_token() -> None:
    # Both are signed with the server's secret; the contexts keep them apart.
    tracking = sign_token(TrackingToken("u", MESSAGE_ID, "ana@example.com"), SECRET)
    for purpose in LinkPurpose:
        assert verify_consent_token(tracking, SECRET, purpose) is None


@pytest.mark.parametrize("junk", ["", "x", "=" * 8, "!!!", "A" * 5000, "AQ", "AQID" * 3])
def test_junk_is_refused_without_raising(junk: str) -> None:
    assert verify_consent_token(junk, SECRET, LinkPurpose.UNSUBSCRIBE) is None
    peek_server_id(junk)


def test_random_bytes_never_raise() -> None:
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for _ in range(2000):
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 120)))
        assert verify_consent_token(junk, SECRET, LinkPurpose.PREFERENCES) is None
        peek_server_id(junk)


def test_expiry_is_to_the_minute_and_checked_by_the_caller() -> None:
    token = ConsentToken(LinkPurpose.CONFIRM, 1, "a@x.test", "news", None, EXPIRES)
    verified = verify_consent_token(sign_consent_token(token, SECRET), SECRET, LinkPurpose.CONFIRM)
    assert verified is not None and verified.expires_at == EXPIRES
    assert not verified.expired(datetime(2026, 12, 8, 10, 4, 59, tzinfo=UTC))
    assert verified.expired(EXPIRES)


def test_links_of_one_message_are_the_same_every_time() -> None:
    links = ConsentLinks("https://mail.shop.test")
    secret = SECRET.hex()
    first = links.unsubscribe(1, secret, "broadcast", "Ana@Example.com", MESSAGE_ID)
    assert first == links.unsubscribe(1, secret, "broadcast", "ana@example.com", MESSAGE_ID)
    assert first.startswith("https://mail.shop.test/unsubscribe/")
    assert links.preferences(1, secret, "ana@example.com").startswith(
        "https://mail.shop.test/preferences/"
    )
    assert links.confirm(1, secret, "news", "ana@example.com", EXPIRES).startswith(
        "https://mail.shop.test/subscriptions/confirm/"
    )
