"""Standard Webhooks signatures: a per-webhook secret, the three headers, and their check.

Postmark's webhooks carry no signature, only basic auth and custom headers; Misiva signs
every request as https://www.standardwebhooks.com specifies, so receivers can tell our
requests from forgeries and replays:

    webhook-id:        the delivery's idempotency key, the same on every retry
    webhook-timestamp: integer Unix seconds of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">

The secret is `whsec_` followed by the base64 of the HMAC key.
"""

from __future__ import annotations

import base64
import hmac
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

SECRET_PREFIX = "whsec_"
# 32 bytes is a full SHA-256 block's worth of key; the standard asks for 24 to 64.
SECRET_BYTES = 32
# The standard's reference libraries refuse timestamps more than five minutes off, which
# bounds how long a captured request can be replayed.
DEFAULT_TOLERANCE = timedelta(minutes=5)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def new_webhook_secret() -> str:
    """A fresh signing secret in the whsec_<base64> form receivers' libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature_headers(
    secret: str, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt at posting `body`.

    `message_id` is the delivery's idempotency key (e.g. f"evt_{event_id}_{webhook_id}"):
    retries of one event to one webhook reuse it, so a receiver can drop duplicates.
    `timestamp` is this attempt's time; it is signed, so each retry is signed anew.
    """
    moment = _utc(timestamp)
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(math.floor(moment.timestamp())),
        SIGNATURE_HEADER: _sign(secret, message_id, moment, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """Whether `headers` carry a valid signature of `body` made with `secret`, made recently.

    Header names are matched case-insensitively, as HTTP does. `now` comes from the caller's
    clock (the current time when omitted); a timestamp further than `tolerance` from it is
    refused, as is a signature header listing only other versions or other keys. A
    malformed secret is the caller's mistake, not a forgery: it raises ValueError.
    """
    named = {name.lower(): value for name, value in headers.items()}
    message_id = named.get(ID_HEADER, "")
    signatures = named.get(SIGNATURE_HEADER, "")
    try:
        signed_at = datetime.fromtimestamp(int(named.get(TIMESTAMP_HEADER, "")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return False
    if not message_id or abs((now or datetime.now(UTC)) - signed_at) > tolerance:
        return False
    try:
        expected = _sign(secret, message_id, signed_at, body).encode()
    except UnicodeDecodeError:
        return False
    # The header may list several space-separated signatures (e.g. while a secret is
    # rotated); any one that matches will do. compare_digest keeps the check constant-time.
    return any(
        hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split()
    )


def _sign(secret: str, message_id: str, moment: datetime, body: bytes) -> str:
    # standardwebhooks signs text; our bodies are UTF-8 JSON, so decoding is lossless and
    # the HMAC covers exactly the bytes sent.
    try:
        signer = Webhook(secret)
    except EmptyWebhookSecretError as exc:
        raise ValueError("webhook secret is empty") from exc
    signature: str = signer.sign(msg_id=message_id, timestamp=moment, data=body.decode())
    return signature


def _utc(moment: datetime) -> datetime:
    # standardwebhooks stamps the datetime's wall clock as UTC (replace, not astimezone),
    # so an aware time in another zone must be converted first, and a naive one refused.
    if moment.utcoffset() is None:
        raise ValueError("signature timestamp must be timezone-aware")
    return moment.astimezone(UTC)
