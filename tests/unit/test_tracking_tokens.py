"""Tracking tokens verify only as signed, for their own message and recipient, and never raise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re

import pytest

from misiva.tracking.tokens import (
    MAX_LINK_BYTES,
    TokenKind,
    TrackingToken,
    sign_token,
    verify_token,
)

SECRET = b"server-one-secret-32-bytes-long!"
OTHER_SECRET = b"server-two-secret-32-bytes-long!"
MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
CLICK = TrackingToken(
    kind="c",
    message_id=MESSAGE_ID,
    recipient="jane.doe@example.com",
    link="https://shop.example.com/orders/12345?utm_source=newsletter&utm_medium=email",
)


def one_server(message_id: str) -> bytes | None:
    return SECRET if message_id == MESSAGE_ID else None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.mark.parametrize(
    "token",
    [
        CLICK,
        TrackingToken("o", MESSAGE_ID, "jane.doe@example.com"),
        TrackingToken("u", MESSAGE_ID, "jane.doe@example.com", stream="broadcasts"),
        TrackingToken("c", MESSAGE_ID, "zoë@exämple.com", "https://x.test/ñ?q=ü", "outbound"),
        # Longer than 127 bytes: the two-byte length.
        TrackingToken("o", MESSAGE_ID, "a" * 200 + "@example.com"),
        # Short and random: stored raw, since deflate would not make it shorter.
        TrackingToken("c", MESSAGE_ID, "j@x.test", "https://q.test/Zx9"),
        # Message ids that are not canonical UUIDs travel as text, unchanged.
        TrackingToken("o", "883953F4-6105-42A2-A16A-77A8EAC79483", "j@x.test"),
        TrackingToken("o", "msg-42", "j@x.test", stream="outbound"),
    ],
)
def test_a_signed_token_verifies_to_the_same_fields(token: TrackingToken) -> None:
    value = sign_token(token, SECRET)

    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
    assert verify_token(value, lambda message_id: SECRET) == token


def test_the_largest_token_sign_accepts_still_verifies() -> None:
    # Every field at its limit and a link of random hex, which deflate can barely shorten.
    link = "https://a.test/" + random.Random(1).randbytes(1500).hex()[: MAX_LINK_BYTES - 15]
    field = "é" * 511 + "x"  # 1023 bytes, the most a field may hold
    token = TrackingToken("c", field, field, link, field)

    value = sign_token(token, SECRET)

    assert len(value) < 8192
    assert verify_token(value, lambda message_id: SECRET) == token


def test_verify_asks_for_the_secret_of_the_embedded_message_and_returns_its_ids() -> None:
    asked: list[str] = []

    def secret_for(message_id: str) -> bytes:
        asked.append(message_id)
        return SECRET

    verified = verify_token(sign_token(CLICK, SECRET), secret_for)

    assert asked == [MESSAGE_ID]
    assert verified is not None
    assert verified.kind == "c"
    assert verified.kind is TokenKind.CLICK
    assert (verified.message_id, verified.recipient, verified.link) == (
        MESSAGE_ID,
        "jane.doe@example.com",
        CLICK.link,
    )


def test_a_typical_click_token_stays_short() -> None:
    assert len(sign_token(CLICK, SECRET)) <= 130
    assert len(sign_token(TrackingToken("o", MESSAGE_ID, "jane.doe@example.com"), SECRET)) < 80


def test_changing_any_byte_of_a_token_makes_it_invalid() -> None:
    raw = unb64(sign_token(CLICK, SECRET))

    for index in range(len(raw)):
        for flip in (0x01, 0x80, 0xFF):
            altered = bytearray(raw)
            altered[index] ^= flip
            assert verify_token(b64(bytes(altered)), one_server) is None, (index, flip)


def test_changing_any_character_of_a_token_makes_it_invalid() -> None:
    value = sign_token(CLICK, SECRET)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    for index, char in enumerate(value):
        # Every replacement, including those that only touch the last character's unused bits.
        for replacement in alphabet.replace(char, ""):
            altered = value[:index] + replacement + value[index + 1 :]
            assert verify_token(altered, one_server) is None, (index, replacement)


def test_cutting_or_extending_a_token_makes_it_invalid() -> None:
    value = sign_token(CLICK, SECRET)

    for end in range(len(value)):
        assert verify_token(value[:end], one_server) is None
    for suffix in ("A", "AA", "=", "==", ".", " ", "%3D"):
        assert verify_token(value + suffix, one_server) is None
    assert verify_token(" " + value, one_server) is None


def test_a_token_of_another_server_does_not_verify() -> None:
    value = sign_token(CLICK, OTHER_SECRET)

    assert verify_token(value, one_server) is None


def test_a_token_for_an_unknown_message_does_not_verify() -> None:
    value = sign_token(CLICK, SECRET)

    assert verify_token(value, lambda message_id: None) is None
    assert verify_token(value, lambda message_id: b"") is None


def test_a_click_token_cannot_become_one_for_another_recipient_or_link() -> None:
    # Splicing the fields of one valid token into another keeps the tag of neither.
    mine = unb64(sign_token(CLICK, SECRET))
    theirs = unb64(
        sign_token(TrackingToken("c", MESSAGE_ID, "evil@x.test", "https://evil.test/"), SECRET)
    )

    spliced = theirs[:-16] + mine[-16:]

    assert verify_token(b64(spliced), one_server) is None


def test_a_tag_valid_for_an_unknown_format_version_is_refused() -> None:
    """Even a correct tag does not make bytes in a format we never wrote acceptable."""
    payload = bytes([2, 0]) + bytes(16) + b"\x08j@x.test"
    tag = hmac.new(SECRET, b"misiva/tracking-token/v1\x00" + payload, hashlib.sha256).digest()

    assert verify_token(b64(payload + tag[:16]), lambda message_id: SECRET) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "A", "AAAA", "====", "!!!!", "a.b.c", "ñandú", "\x00" * 40, "A" * 9000, "/o/", "%00"],
)
def test_garbage_is_not_a_token(garbage: str) -> None:
    assert verify_token(garbage, lambda message_id: SECRET) is None


def test_random_bytes_never_raise_and_never_verify() -> None:
    generator = random.Random(4)

    for _ in range(3000):
        data = bytes(generator.randrange(256) for _ in range(generator.randrange(1, 160)))
        if generator.random() < 0.5:  # make the start look like ours, to reach the field parser
            data = bytes([1, generator.randrange(64)]) + data
        assert verify_token(b64(data), lambda message_id: SECRET) is None


def test_non_strings_are_not_tokens() -> None:
    assert verify_token(None, lambda message_id: SECRET) is None  # type: ignore[arg-type]
    assert verify_token(b"AAAA", lambda message_id: SECRET) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "secret"),
    [
        (TrackingToken("x", MESSAGE_ID, "j@x.test"), SECRET),
        (TrackingToken("c", MESSAGE_ID, "j@x.test"), SECRET),
        (TrackingToken("c", MESSAGE_ID, "j@x.test", "javascript:alert(1)"), SECRET),
        (TrackingToken("c", MESSAGE_ID, "j@x.test", "//evil.test/"), SECRET),
        (TrackingToken("o", "", "j@x.test"), SECRET),
        (TrackingToken("o", MESSAGE_ID, ""), SECRET),
        (TrackingToken("o", MESSAGE_ID, "j@x.test", stream="s" * 1024), SECRET),
        (TrackingToken("c", MESSAGE_ID, "j@x.test", "https://a.test/" + "a" * 2034), SECRET),
        (TrackingToken("o", MESSAGE_ID, "j@x.test"), b""),
    ],
)
def test_sign_refuses_what_no_endpoint_should_honour(token: TrackingToken, secret: bytes) -> None:
    with pytest.raises(ValueError):
        sign_token(token, secret)
