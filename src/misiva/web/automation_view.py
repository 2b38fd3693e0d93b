"""What the automation pages say about rules, events and scheduled messages, marked for
translation: outcomes and statuses in words, the delay's units, an event's outcome summary,
a scheduled message's origin, and the paging of the lists (paging.html)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from misiva.domain.automation import Outcome, RuleOutcome, ScheduledMessage, ScheduledStatus
from misiva.web.i18n import N_

PAGE_SIZE = 50
# Far past any real list, and it keeps a typed page number from overflowing an OFFSET.
_MAX_PAGE = 100_000

OUTCOMES: Final[dict[str, str]] = {
    Outcome.SCHEDULED.value: N_("fired"),
    Outcome.NOT_MATCHED.value: N_("not matched"),
    Outcome.PAUSED.value: N_("paused"),
    Outcome.CAPPED.value: N_("capped"),
    Outcome.DEDUPLICATED.value: N_("deduplicated"),
    Outcome.ERROR.value: N_("error"),
}
# An event's outcomes in one line: "2 fired, 1 not matched".
OUTCOME_COUNTS: Final[dict[str, str]] = {
    Outcome.SCHEDULED.value: N_("%(n)s fired"),
    Outcome.NOT_MATCHED.value: N_("%(n)s not matched"),
    Outcome.PAUSED.value: N_("%(n)s paused"),
    Outcome.CAPPED.value: N_("%(n)s capped"),
    Outcome.DEDUPLICATED.value: N_("%(n)s deduplicated"),
    Outcome.ERROR.value: N_("%(n)s with an error"),
}
STATUSES: Final[dict[str, str]] = {
    ScheduledStatus.SCHEDULED.value: N_("scheduled"),
    ScheduledStatus.SENT.value: N_("sent"),
    ScheduledStatus.CANCELLED.value: N_("cancelled"),
    ScheduledStatus.FAILED.value: N_("failed to send"),
}
# The delay's units: the select's names, and the words for one and for several.
UNIT_NAMES: Final[dict[str, str]] = {
    "minutes": N_("minutes"),
    "hours": N_("hours"),
    "days": N_("days"),
}
UNIT_WORDS: Final[dict[str, tuple[str, str]]] = {
    "minutes": (N_("minute"), N_("minutes")),
    "hours": (N_("hour"), N_("hours")),
    "days": (N_("day"), N_("days")),
}


def summary(outcomes: Sequence[RuleOutcome]) -> list[tuple[str, int]]:
    """(outcome, how many rules had it), in the order outcomes are decided, fired first."""
    counted = Counter(o.outcome.value for o in outcomes)
    return [(o.value, counted[o.value]) for o in Outcome if counted[o.value]]


@dataclass(frozen=True, slots=True)
class Origin:
    """The rule and event a scheduled message came from (a SendAt send has neither)."""

    rule: str | None
    event: str | None


def origin(message: ScheduledMessage) -> Origin:
    """Read from the Metadata every rule's message carries (`trigger`, `event`); only for a
    message a rule scheduled, so a SendAt send's own metadata is never taken for one."""
    if message.trigger_id is None:
        return Origin(None, None)
    metadata: dict[str, Any] = message.fields.get("metadata") or {}
    rule, event = metadata.get("trigger"), metadata.get("event")
    return Origin(
        str(rule) if rule else None,
        str(event) if event and message.app_event_id is not None else None,
    )


def template_of(message: ScheduledMessage) -> str | None:
    fields = message.fields
    ref = fields.get("template_alias") or fields.get("template_id")
    return str(ref) if ref else None


def page_asked(value: str | None) -> int:
    # A page that is no number is the first page: paging links are ours, a typo is harmless.
    ok = value is not None and value.isascii() and value.isdigit() and len(value) <= 9
    return min(max(int(value), 1), _MAX_PAGE) if ok and value else 1


def paging(path: str, filters: dict[str, str], number: int, total: int) -> dict[str, object]:
    """What paging.html reads: page `number` of a list of `total` with these filters."""
    last = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    given = [(k, v) for k, v in filters.items() if v]

    def at(n: int) -> str:
        return f"{path}?{urlencode([*given, ('page', str(n))])}"

    return {
        "page_number": number,
        "last_page": last,
        "previous_url": at(number - 1) if number > 1 else None,
        "next_url": at(number + 1) if number < last else None,
    }
