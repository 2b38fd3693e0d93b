"""Signed, compact URL tokens that scope an open, click or unsubscribe to one message and recipient.

Format (version 1), base64url without padding over these bytes:

    version    1 byte, 0x01
    flags      1 byte: bits 0-1 kind (0 open, 1 click, 2 unsubscribe), bit 2 the message id
               is a UUID (16 raw bytes follow) rather than length-prefixed UTF-8, bit 3 a
               stream follows, bit 4 a link follows, bit 5 the link is raw-deflated
    message id 16 bytes, or a length (LEB128) and UTF-8
    recipient  a length (LEB128) and UTF-8
    stream     a length (LEB128) and UTF-8, when flagged
    link       the rest up to the tag, when flagged: UTF-8, or deflated with a fixed dictionary
    tag        16 bytes: HMAC-SHA256(server secret, context + all the bytes above), truncated

The click's original URL travels inside the token, so the redirect endpoint can prove, with no
database read, that it only ever sends a browser to a URL that was in the message (no open
redirect). The fields are encoded, not encrypted: whoever holds the URL can read the message id,
the recipient address and the link, but cannot change any of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


class TokenKind(StrEnum):
    """What a token lets its holder do; the values are the one-letter kinds of TrackingToken."""

    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"


@dataclass(frozen=True, slots=True)
class TrackingToken:
    """The signed content of one tracking URL; `link` is the click's original URL."""

    kind: str
    message_id: str
    recipient: str
    link: str | None = None
    stream: str | None = None


_VERSION = 1
_KIND_CODES = {TokenKind.OPEN: 0, TokenKind.CLICK: 1, TokenKind.UNSUBSCRIBE: 2}
_KINDS_BY_CODE = {code: kind for kind, code in _KIND_CODES.items()}
_KIND_MASK = 0b11
_UUID_ID = 1 << 2
_HAS_STREAM = 1 << 3
_HAS_LINK = 1 << 4
_DEFLATED = 1 << 5
_KNOWN_FLAGS = _KIND_MASK | _UUID_ID | _HAS_STREAM | _HAS_LINK | _DEFLATED

# 128 bits of HMAC-SHA256 is the truncation RFC 4868 §2.6 uses for HMAC-SHA-256-128; a forger
# gets one online guess per request, so the remaining 2^-128 odds are far beyond reach.
_TAG_BYTES = 16
# The server's secret may sign other things (opt-in confirmations); the context keeps a tracking
# tag from ever being valid as a tag of another kind of token, and the reverse.
_CONTEXT = b"misiva/tracking-token/v1\x00"
# Far more than any address (RFC 5321 §4.5.3.1 caps a path at 256 octets), message id or
# stream name; two LEB128 bytes hold it.
_MAX_FIELD = 1023
# Links longer than this are left untracked: with the token around them they would pass the
# 8 KB request line that common proxies (nginx) accept, and no tracked link must break.
MAX_LINK_BYTES = 2048
# The longest token sign_token can make is under 7,000 characters; anything longer is not ours,
# and refusing it early bounds the work an anonymous request can cause.
_MAX_TOKEN_CHARS = 8192
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

# Deflate's preset dictionary (RFC 1950 §2.2): pieces found in most links, so that even a short
# URL compresses. The most frequent pieces come last, where matches cost fewest bits. Changing
# this invalidates every token already sent: a new dictionary needs a new version byte.
_LINK_DICTIONARY = (
    b"utm_content=utm_term=utm_id=&utm_campaign=&utm_medium=email&utm_source=newsletter"
    b"?id=?token=/login/account/orders/reset-password/confirm/verify/"
    b"index.html.php.aspx.pdf.co.uk.de.fr.es.io.org/.net/.com/https://www.http://https://"
)


def sign_token(token: TrackingToken, secret: bytes) -> str:
    """The URL-safe string for `token`, signed with the server's secret."""
    if not secret:
        raise ValueError("a tracking token needs a non-empty secret")
    payload = _encode_payload(token)
    return urlsafe_encode(payload + _tag(secret, payload))


def verify_token(value: str, secret_for: Callable[[str], bytes | None]) -> TrackingToken | None:
    """The token in `value` if its tag is valid under its message's secret, else None.

    `secret_for(message_id)` returns the secret of the server that sent that message, or None
    for an unknown message; the id it gets is not yet verified (any text, up to 16 KB), and its
    own errors (a database that is down) are not swallowed. The caller still checks that the
    returned ids match what the endpoint acts on.
    """
    raw = urlsafe_decode(value, _MAX_TOKEN_CHARS)
    if raw is None or len(raw) <= _TAG_BYTES:
        return None
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    parsed = _decode_payload(payload)
    if parsed is None:
        return None
    token, link_bytes, deflated = parsed
    secret = secret_for(token.message_id)
    if not secret or not hmac.compare_digest(tag, _tag(secret, payload)):
        return None
    if link_bytes is None:
        return token
    # Only now, with the tag verified, are the link bytes ours to inflate.
    link = _decode_link(link_bytes, deflated)
    return None if link is None else _replace_link(token, link)


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _encode_payload(token: TrackingToken) -> bytes:
    kind = _checked_kind(token)
    flags = _KIND_CODES[kind]
    id_bytes = _uuid_bytes(token.message_id)
    if id_bytes is None:
        id_bytes = _field(token.message_id)
    else:
        flags |= _UUID_ID
    body = bytearray(id_bytes + _field(token.recipient))
    if token.stream is not None:
        flags |= _HAS_STREAM
        body += _field(token.stream)
    if token.link is not None:
        link, deflated = _encode_link(token.link)
        flags |= _HAS_LINK | (_DEFLATED if deflated else 0)
        body += link
    return bytes([_VERSION, flags]) + bytes(body)


def _checked_kind(token: TrackingToken) -> TokenKind:
    """Refuse to sign what no endpoint should ever honour, above all a click to a non-web URL."""
    try:
        kind = TokenKind(token.kind)
    except ValueError:
        raise ValueError(f"unknown tracking token kind {token.kind!r}") from None
    if not token.message_id or not token.recipient:
        raise ValueError("a tracking token needs a message id and a recipient")
    web_link = token.link is not None and urlsplit(token.link).scheme.lower() in ("http", "https")
    if kind is TokenKind.CLICK and not web_link:
        raise ValueError("a click token needs an http(s) link")
    if token.link is not None and len(token.link.encode("utf-8")) > MAX_LINK_BYTES:
        raise ValueError(f"a tracked link must be at most {MAX_LINK_BYTES} bytes")
    return kind


def _uuid_bytes(message_id: str) -> bytes | None:
    """16 bytes for a MessageID in its canonical spelling; others travel as text, unchanged."""
    try:
        parsed = uuid.UUID(message_id)
    except ValueError:
        return None
    return parsed.bytes if str(parsed) == message_id else None


def _field(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > _MAX_FIELD:
        raise ValueError(f"tracking token field longer than {_MAX_FIELD} bytes")
    if len(data) < 0x80:
        return bytes([len(data)]) + data
    return bytes([0x80 | (len(data) & 0x7F), len(data) >> 7]) + data


def _encode_link(link: str) -> tuple[bytes, bool]:
    """The shorter of the raw and the deflated link, and whether it is deflated."""
    raw = link.encode("utf-8")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_LINK_DICTIONARY)
    packed = compressor.compress(raw) + compressor.flush()
    return (packed, True) if len(packed) < len(raw) else (raw, False)


def _decode_payload(payload: bytes) -> tuple[TrackingToken, bytes | None, bool] | None:
    """The token fields and the still-encoded link; None for anything we did not write."""
    if len(payload) < 2 or payload[0] != _VERSION or payload[1] & ~_KNOWN_FLAGS:
        return None
    flags = payload[1]
    kind = _KINDS_BY_CODE.get(flags & _KIND_MASK)
    reader = _Reader(payload, 2)
    try:
        message_id = reader.uuid_text() if flags & _UUID_ID else reader.text()
        recipient = reader.text()
        stream = reader.text() if flags & _HAS_STREAM else None
    except (ValueError, UnicodeDecodeError):
        return None
    link_bytes = reader.rest() if flags & _HAS_LINK else None
    if kind is None or not message_id or not recipient:
        return None
    if (link_bytes is None and reader.remaining()) or link_bytes == b"":
        return None
    token = TrackingToken(kind, message_id, recipient, None, stream)
    return token, link_bytes, bool(flags & _DEFLATED)


def _decode_link(data: bytes, deflated: bool) -> str | None:
    try:
        if deflated:
            inflater = zlib.decompressobj(-15, zdict=_LINK_DICTIONARY)
            data = inflater.decompress(data, MAX_LINK_BYTES)
            if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
                return None
        return data.decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        return None


def _replace_link(token: TrackingToken, link: str) -> TrackingToken:
    return TrackingToken(token.kind, token.message_id, token.recipient, link, token.stream)


class _Reader:
    """Reads the length-prefixed fields of a payload; raises ValueError past its end."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position

    def take(self, count: int) -> bytes:
        end = self.position + count
        if end > len(self.data):
            raise ValueError("truncated tracking token")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def uuid_text(self) -> str:
        return str(uuid.UUID(bytes=self.take(16)))

    def text(self) -> str:
        first = self.take(1)[0]
        length = first
        if first & 0x80:
            second = self.take(1)[0]
            if second == 0 or second > 0x7F:  # only the shortest spelling of a length is ours
                raise ValueError("non-canonical length")
            length = (first & 0x7F) | (second << 7)
        return self.take(length).decode("utf-8")

    def rest(self) -> bytes:
        chunk = self.data[self.position :]
        self.position = len(self.data)
        return chunk

    def remaining(self) -> int:
        return len(self.data) - self.position


def urlsafe_encode(data: bytes) -> str:
    """base64url without padding: the spelling every signed URL token uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def urlsafe_decode(value: object, max_chars: int) -> bytes | None:
    """Strict base64url: one spelling per byte string, so no altered token decodes the same."""
    if not isinstance(value, str) or len(value) > max_chars:
        return None
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    # The last character may carry unused bits; a spelling that differs only there is refused.
    return data if urlsafe_encode(data) == value else None
