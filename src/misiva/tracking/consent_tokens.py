"""Signed tokens and URLs for a recipient's subscription links: unsubscribe, preferences, confirm.

Format (version 1), base64url without padding over these bytes:

    version    1 byte, 0x01
    purpose    1 byte: 0 unsubscribe, 1 preference centre, 2 opt-in confirmation
    flags      1 byte: bit 0 a message id follows, bit 1 an expiry follows
    server id  LEB128
    expires    4 bytes, minutes since the Unix epoch (big-endian), when flagged
    message id 16 bytes (a MessageID's UUID), when flagged
    email      a length (LEB128) and UTF-8
    stream     a length (LEB128) and UTF-8 ("" for the preference centre)
    tag        16 bytes: HMAC-SHA256(server secret, context + all the bytes above), truncated

The server id travels in the token, so a link keeps working after its message is purged by
retention (an unsubscribe link must work as long as the mail is in someone's inbox). Unsubscribe
and preference tokens carry no time, so the same message always gets the same URL: the one in
List-Unsubscribe is the one in the footer, and tracking can leave both alone.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from misiva.tracking.tokens import urlsafe_decode, urlsafe_encode

_VERSION = 1
_HAS_MESSAGE = 1
_HAS_EXPIRY = 2
# A distinct context from tracking tokens' (same server secret): a tag of one kind can never
# pass as a tag of the other.
_CONTEXT = b"misiva/consent-token/v1\x00"
_TAG_BYTES = 16  # RFC 4868 §2.6's HMAC-SHA-256-128, as tracking tokens use
_MAX_FIELD = 1023
_MAX_TOKEN_CHARS = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LinkPurpose(IntEnum):
    UNSUBSCRIBE = 0
    PREFERENCES = 1
    CONFIRM = 2


# The path of each purpose's endpoint. The words keep link tracking away from them: a
# redirect through a click URL would count an unsubscribe as a click.
PATHS = {
    LinkPurpose.UNSUBSCRIBE: "unsubscribe",
    LinkPurpose.PREFERENCES: "preferences",
    LinkPurpose.CONFIRM: "subscriptions/confirm",
}


@dataclass(frozen=True, slots=True)
class ConsentToken:
    purpose: LinkPurpose
    server_id: int
    email: str
    stream: str = ""
    message_id: str | None = None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def sign_consent_token(token: ConsentToken, secret: bytes) -> str:
    if not secret:
        raise ValueError("a consent token needs a non-empty secret")
    payload = _encode(token)
    return urlsafe_encode(payload + _tag(secret, payload))


def consent_url(link_base: str, token: ConsentToken, secret: bytes) -> str:
    return f"{link_base}/{PATHS[token.purpose]}/{sign_consent_token(token, secret)}"


def peek_server_id(value: str) -> int | None:
    """The server id a token names, read before its tag is checked (to find the key)."""
    raw = urlsafe_decode(value, _MAX_TOKEN_CHARS)
    if raw is None or len(raw) <= _TAG_BYTES:
        return None
    parsed = _decode(raw[:-_TAG_BYTES])
    return parsed.server_id if parsed else None


def verify_consent_token(
    value: str, secret: bytes | None, purpose: LinkPurpose
) -> ConsentToken | None:
    """The token if it is ours, unaltered and for `purpose`; None otherwise. Expiry is the
    caller's to check (an expired link gets its own page)."""
    raw = urlsafe_decode(value, _MAX_TOKEN_CHARS)
    if raw is None or len(raw) <= _TAG_BYTES or not secret:
        return None
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, payload)):
        return None
    token = _decode(payload)
    return token if token is not None and token.purpose is purpose else None


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _encode(token: ConsentToken) -> bytes:
    if token.server_id < 0 or not token.email:
        raise ValueError("a consent token needs a server id and an email")
    flags = (_HAS_MESSAGE if token.message_id else 0) | (_HAS_EXPIRY if token.expires_at else 0)
    out = bytearray([_VERSION, int(token.purpose), flags]) + _varint(token.server_id)
    if token.expires_at is not None:
        minutes = int((token.expires_at - _EPOCH).total_seconds() // 60)
        out += struct.pack(">I", minutes)
    if token.message_id:
        out += uuid.UUID(token.message_id).bytes
    return bytes(out + _field(token.email) + _field(token.stream))


def _decode(payload: bytes) -> ConsentToken | None:
    if len(payload) < 3 or payload[0] != _VERSION or payload[2] & ~(_HAS_MESSAGE | _HAS_EXPIRY):
        return None
    try:
        purpose = LinkPurpose(payload[1])
        flags = payload[2]
        position, server_id = _read_varint(payload, 3)
        expires_at = None
        if flags & _HAS_EXPIRY:
            (minutes,) = struct.unpack_from(">I", payload, position)
            expires_at = _EPOCH + timedelta(minutes=minutes)
            position += 4
        message_id = None
        if flags & _HAS_MESSAGE:
            chunk = payload[position : position + 16]
            if len(chunk) != 16:
                return None
            message_id = str(uuid.UUID(bytes=chunk))
            position += 16
        position, email = _read_field(payload, position)
        position, stream = _read_field(payload, position)
    except (ValueError, struct.error, UnicodeDecodeError):
        return None
    if position != len(payload) or not email:
        return None
    return ConsentToken(purpose, server_id, email, stream, message_id, expires_at)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    number = shift = 0
    for _ in range(5):
        if position >= len(data):
            raise ValueError("truncated")
        byte = data[position]
        position += 1
        number |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return position, number
    raise ValueError("varint too long")


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > _MAX_FIELD:
        raise ValueError(f"consent token field longer than {_MAX_FIELD} bytes")
    return _varint(len(data)) + data


def _read_field(data: bytes, position: int) -> tuple[int, str]:
    position, length = _read_varint(data, position)
    end = position + length
    if end > len(data):
        raise ValueError("truncated")
    return end, data[position:end].decode("utf-8")


@dataclass(frozen=True, slots=True)
class ConsentLinks:
    """The recipient-facing URLs of one server's subscription links."""

    link_base: str

    def unsubscribe(
        self, server_id: int, secret: str, stream: str, email: str, message_id: str | None = None
    ) -> str:
        token = ConsentToken(LinkPurpose.UNSUBSCRIBE, server_id, email.lower(), stream, message_id)
        return consent_url(self.link_base, token, bytes.fromhex(secret))

    def preferences(
        self, server_id: int, secret: str, email: str, message_id: str | None = None
    ) -> str:
        token = ConsentToken(LinkPurpose.PREFERENCES, server_id, email.lower(), "", message_id)
        return consent_url(self.link_base, token, bytes.fromhex(secret))

    def confirm(
        self, server_id: int, secret: str, stream: str, email: str, expires_at: datetime
    ) -> str:
        token = ConsentToken(
            LinkPurpose.CONFIRM, server_id, email.lower(), stream, None, expires_at
        )
        return consent_url(self.link_base, token, bytes.fromhex(secret))
