"""The submission server's replies (RFC 5321 §4.2, enhanced codes of RFC 3463), and the
translation of a refused send into the reply that makes a client give up or retry."""

from __future__ import annotations

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError, TooLarge
from misiva.domain.smtp import SMTPReply

AUTH_OK = SMTPReply(235, "2.7.0 Authentication successful")
# RFC 4954 §6: 535 5.7.8 for credentials that are not valid.
AUTH_INVALID = SMTPReply(535, "5.7.8 Authentication credentials invalid")
# RFC 4954 §6: 454 4.7.0 is a temporary authentication failure; the client may retry later.
AUTH_LOCKED = SMTPReply(
    454, "4.7.0 Too many failed authentication attempts from your address; try again later"
)
# The same 454 when the tokens cannot be looked up (the database is away): not the client's
# fault, and not a failure that counts towards its lockout.
AUTH_UNAVAILABLE = SMTPReply(454, "4.7.0 Temporary authentication failure; try again later")
AUTH_SYNTAX = SMTPReply(501, "5.5.2 Cannot decode the AUTH response")
AUTH_CANCELLED = SMTPReply(501, "5.7.0 Authentication cancelled")
RCPT_OK = SMTPReply(250, "2.1.5 OK")
BAD_RECIPIENT = SMTPReply(550, "5.1.1 Invalid recipient address")
# RFC 5321 §4.5.3.1.10: 452 for one recipient too many; the client sends the rest again.
TOO_MANY_RECIPIENTS = SMTPReply(452, "4.5.3 Too many recipients")
# RFC 5321 §4.2.5 and §6.1: say 451 whenever the message is not committed, and the client
# keeps it and tries again: a 250 is a promise that it is stored.
NOT_STORED = SMTPReply(451, "4.3.0 The message could not be stored now; try again later")
_MAX_TEXT = 400


def queued(message_id: str, note: str = "") -> SMTPReply:
    extra = f" ({_one_line(note)})" if note else ""
    return SMTPReply(250, f"2.0.0 OK queued as {message_id}{extra}")


def suppressed(address: str) -> SMTPReply:
    return SMTPReply(
        550,
        f"5.7.1 <{address}> is an inactive recipient: it hard bounced, complained or unsubscribed",
    )


def refused(error: MisivaError) -> SMTPReply:
    """A send the pipeline refused, as a permanent reply that names the reason."""
    text = _one_line(error.message)
    if isinstance(error, TooLarge):
        return SMTPReply(552, f"5.3.4 {text}")
    if error.error_code in (ErrorCode.SENDER_NOT_FOUND, ErrorCode.INACTIVE_RECIPIENT):
        # RFC 3463 X.7.1: delivery not authorised, message refused.
        return SMTPReply(550, f"5.7.1 {text}")
    if error.error_code in (ErrorCode.STREAM_NOT_FOUND, ErrorCode.STREAM_NOT_SENDABLE):
        return SMTPReply(550, f"5.7.1 X-PM-Message-Stream: {text}")
    # RFC 3463 X.6.0: other or undefined media error (what the message says is refused).
    return SMTPReply(550, f"5.6.0 {text}")


def _one_line(text: str) -> str:
    """One line of printable ASCII: a reply must not break the protocol or its encoding."""
    flat = " ".join(text.split())
    ascii_only = flat.encode("ascii", "replace").decode("ascii")
    return ascii_only[:_MAX_TEXT]
