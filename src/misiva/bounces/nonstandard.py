"""Non-standard bounces (Exim, qmail, Sendmail and Postfix without DSN, Exchange, Yahoo, ...):
flufl.bounce finds the failed recipients and the notice's own words give the reason."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from email.message import Message
from email.utils import getaddresses
from typing import Final

from flufl.bounce import all_failures

from misiva.bounces.classify import REPLY_CODE, STATUS, classify_failure, find_status, is_permanent
from misiva.bounces.message import (
    clean_address,
    decoded,
    looks_like_bounce,
    notice_addresses,
    notice_text,
    original_message_id,
    quoted_reply,
    squash,
    unique,
)
from misiva.domain.bounces import FeedbackKind, FeedbackReport

# The top-level fields flufl.bounce's detectors read.
_FLUFL_FIELDS: Final = ("From", "X-Mailer", "X-Failed-Recipients")
# Warnings that a message is late but still being tried; they fail nobody (yet).
_DELAY_WORDS: Final = re.compile(
    r"has been delayed|not yet been delivered|will be retried|warning message only"
    r"|still being retried|delivery attempts will continue|delayed \d+ hours",
    re.IGNORECASE,
)


def parse_nonstandard(msg: Message) -> tuple[FeedbackReport, ...]:
    """Reports for a bounce in no standard format, failures first; () if it is none."""
    temporary, permanent, error = flufl_failures(msg)
    notice = notice_text(msg)
    details = {"parser": "flufl.bounce"}
    if not (temporary or permanent):
        # flufl.bounce knows none of this format: if the mail system sent it, read the notice.
        if not looks_like_bounce(msg) or not _names_a_failure(notice):
            return ()
        details = {"parser": "notice"}
        found = notice_addresses(notice, msg)
        temporary, permanent = (found, []) if _DELAY_WORDS.search(notice) else ([], found)
    if error:
        details["flufl_error"] = error
    message_id = original_message_id(msg)
    pairs = ((FeedbackKind.BOUNCE, permanent), (FeedbackKind.DELAY, temporary))
    outcomes = [(kind, addresses) for kind, addresses in pairs if addresses]
    if not outcomes:
        # A mail-system notice that quotes a failure but names no address still failed
        # someone: the VERP address it came back to says which message.
        delayed = bool(_DELAY_WORDS.search(notice))
        outcomes = [(FeedbackKind.DELAY if delayed else FeedbackKind.BOUNCE, [])]
    return tuple(
        _report(kind, addresses, notice, message_id, details) for kind, addresses in outcomes
    )


def flufl_failures(msg: Message) -> tuple[list[str], list[str], str]:
    """flufl.bounce's temporary and permanent failures, and its error if one of its detectors
    gave up on this message (flufl.bounce 6 re-raises a detector's exception)."""
    try:
        temporary, permanent = all_failures(flufl_view(msg))
    except Exception as exc:
        return [], [], f"flufl.bounce: {type(exc).__name__}: {exc}"
    return _addresses(temporary), _addresses(permanent), ""


def flufl_view(msg: Message) -> Message:
    """`msg` as flufl.bounce's detectors can read it, copied only when it must change.

    They call str methods on header values, but the stdlib hands raw 8-bit values (RFC 6532)
    over as `Header` objects; and the Yale detector takes the first From address unguarded,
    so a message without one makes it raise.
    """
    values = {name: msg.get_all(name, []) for name in _FLUFL_FIELDS}
    plain = all(isinstance(value, str) for found in values.values() for value in found)
    if plain and getaddresses([str(msg.get("From", ""))]):
        return msg
    view = copy.deepcopy(msg)
    for name, found in values.items():
        del view[name]
        for value in found:
            view[name] = decoded(value)
    if not getaddresses([str(view.get("From", ""))]):
        del view["From"]
        view["From"] = "<>"  # RFC 5321 §4.5.5's null path: nobody
    return view


def _addresses(found: Iterable[bytes]) -> list[str]:
    texts = (clean_address(address.decode("ascii", "replace")) for address in sorted(found))
    return unique(address for address in texts if address)


def _names_a_failure(notice: str) -> bool:
    return bool(STATUS.search(notice) or REPLY_CODE.search(notice) or _DELAY_WORDS.search(notice))


def _report(
    kind: FeedbackKind,
    addresses: list[str],
    notice: str,
    message_id: str | None,
    details: dict[str, str],
) -> FeedbackReport:
    text = squash(notice)
    status = find_status(text)
    # A delay is transient by definition; a failure is as permanent as its code says, and
    # without a code as flufl.bounce judged it (it was found among the permanent ones).
    permanent = kind is FeedbackKind.BOUNCE and is_permanent(status, text, otherwise=True)
    return FeedbackReport(
        kind=kind,
        bounce_type=classify_failure(text, permanent=permanent),
        recipients=tuple(addresses),
        status=status,
        diagnostic=quoted_reply(notice),
        original_message_id=message_id,
        details=details,
    )
