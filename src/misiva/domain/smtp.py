"""SMTP replies as values, and how a reply decides a recipient's fate (RFC 5321 §4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReplyClass(StrEnum):
    """The three fates of a recipient after one delivery attempt."""

    SUCCESS = "success"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class SMTPReply:
    """One reply line from a receiving server, or a local stand-in for a network failure."""

    code: int
    text: str

    @property
    def reply_class(self) -> ReplyClass:
        # RFC 5321 §4.2.1: 2yz completed, 4yz transient negative, 5yz permanent negative.
        if 200 <= self.code < 300:
            return ReplyClass.SUCCESS
        if 500 <= self.code < 600:
            return ReplyClass.PERMANENT
        return ReplyClass.TRANSIENT

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()

    @property
    def delivery_message(self) -> str:
        """Postmark's DeliveryMessage form: `smtp;250 2.0.0 OK`."""
        return f"smtp;{self}"


# Local stand-ins, so a network failure reads like the reply it amounts to. 421 is what
# RFC 5321 §3.8 lets a server say when it must close: a transient failure, retried later.
CONNECTION_FAILED = 421
TIMEOUT = 421
CAPTURED = SMTPReply(250, "2.0.0 kept in the capture inbox")


def connection_failed(detail: str) -> SMTPReply:
    return SMTPReply(CONNECTION_FAILED, f"4.4.1 connection failed: {detail}")


def timed_out(detail: str) -> SMTPReply:
    return SMTPReply(TIMEOUT, f"4.4.2 timed out: {detail}")
