"""Classify one message that came back to the bounce address: its parsers in order, the first
that recognises it wins, and no input ever raises."""

from __future__ import annotations

import email
from email.message import Message
from typing import Final, Protocol

from misiva.bounces.arf import parse_arf
from misiva.bounces.autoreply import parse_autoreply
from misiva.bounces.dsn import parse_dsn
from misiva.bounces.nonstandard import parse_nonstandard
from misiva.bounces.unsubscribe import parse_unsubscribe
from misiva.domain.bounces import FeedbackKind, FeedbackReport


class FeedbackParser(Protocol):
    """One format: its reports (the most important first) or () if `msg` is not in it."""

    def __call__(self, msg: Message, /) -> tuple[FeedbackReport, ...]: ...


# The RFC formats say what they are (RFC 6522 report-type), so they go first. Unsubscribe
# requests and auto-replies come before flufl.bounce's heuristics, which could read an
# address out of any text; those two step aside for anything that reads as a bounce.
PARSERS: Final[tuple[tuple[str, FeedbackParser], ...]] = (
    ("arf", parse_arf),
    ("dsn", parse_dsn),
    ("unsubscribe", parse_unsubscribe),
    ("autoreply", parse_autoreply),
    ("nonstandard", parse_nonstandard),
)


def parse_feedback(raw: bytes) -> FeedbackReport:
    """What one returned message is: a bounce, a delay, a complaint, an auto-reply or none.

    When its recipients fared differently (RFC 3464 gives each its own status), this is
    the report about the failures; `parse_feedback_all` has every outcome.
    """
    return parse_feedback_all(raw)[0]


def parse_feedback_all(raw: bytes) -> tuple[FeedbackReport, ...]:
    """Every outcome one returned message reports, the most important first; never empty."""
    try:
        msg = email.message_from_bytes(raw)
    except Exception as exc:  # any bytes in, never an exception out
        return (_not_bounce({"error": _describe(exc)}),)
    errors: list[str] = []
    for name, parser in PARSERS:
        try:
            reports = parser(msg)
        except Exception as exc:  # one parser's blind spot must not hide the message from the rest
            errors.append(f"{name}: {_describe(exc)}")
            continue
        if reports:
            return reports
    return (_not_bounce(_problems(msg, errors)),)


def _problems(msg: Message, errors: list[str]) -> dict[str, str]:
    """details["error"] for a message that could not be read, {} for ordinary mail."""
    if not msg.keys():
        errors.insert(0, "no header fields")
    defects = sorted({type(defect).__name__ for defect in msg.defects})
    if defects:
        errors.append("malformed: " + ", ".join(defects))
    return {"error": "; ".join(errors)} if errors else {}


def _not_bounce(details: dict[str, str]) -> FeedbackReport:
    return FeedbackReport(kind=FeedbackKind.NOT_BOUNCE, bounce_type=None, details=details)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
