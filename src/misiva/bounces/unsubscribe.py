"""Unsubscribe requests that arrive as mail (RFC 2369 `List-Unsubscribe: <mailto:...>`, Apple
Mail's unsubscribe button): not bounces, but told apart from ordinary mail."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from misiva.bounces.message import header_text, looks_like_bounce, sender
from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport

# RFC 2369 §3.2 mailto: links conventionally carry "?subject=unsubscribe".
_SUBJECT: Final = re.compile(r"^\s*unsubscribe\s*$", re.IGNORECASE)
# Apple Mail marks the request it sends for its own unsubscribe button.
_APPLE_MARK: Final = "X-Apple-Unsubscribe"


def parse_unsubscribe(msg: Message) -> tuple[FeedbackReport, ...]:
    """A not-bounce report naming who asked to unsubscribe; () for anything else.

    These carry "Auto-Submitted: auto-replied" (Apple's do), so they are looked for before
    auto-replies.
    """
    marked = header_text(msg, _APPLE_MARK).lower() == "true"
    if not (marked or _SUBJECT.match(header_text(msg, "Subject"))) or looks_like_bounce(msg):
        return ()
    requester = sender(msg)
    return (
        FeedbackReport(
            kind=FeedbackKind.NOT_BOUNCE,
            bounce_type=BounceType.UNSUBSCRIBE,
            recipients=(requester,) if requester else (),
            details={"parser": "unsubscribe", "request": "unsubscribe"},
        ),
    )
