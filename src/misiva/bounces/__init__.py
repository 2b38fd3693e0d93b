"""Parse and classify mail that comes back: DSNs, non-standard bounces, ARF complaints and
auto-replies, the SMTP replies of a failed delivery, and Misiva's VERP return path."""

from __future__ import annotations

from misiva.bounces.classify import FeedbackClass, classify_smtp_reply, feedback_class
from misiva.bounces.parse import parse_feedback, parse_feedback_all
from misiva.bounces.verp import (
    message_id_from_header,
    unsubscribe_address,
    unsubscribe_message_id,
    verp_address,
    verp_message_id,
)

__all__ = [
    "FeedbackClass",
    "classify_smtp_reply",
    "feedback_class",
    "message_id_from_header",
    "parse_feedback",
    "parse_feedback_all",
    "unsubscribe_address",
    "unsubscribe_message_id",
    "verp_address",
    "verp_message_id",
]
