"""The rule editor as data: a trigger's fields as typed (text, so a refused save shows them
unchanged), read from a stored rule or a posted form, and turned into the definition the
triggers service checks and saves (and the dry run tries).

Only what a form alone can get wrong is refused here (a number or a time typed badly, a cap
given by half); whether the rule can work (its event names, condition, delay and periods, its
template, stream and sender) is the service's to say, in the same words as for the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta

from misiva.automation.triggers import ScheduledPolicy
from misiva.domain.automation import Cap, TriggerDefinition, Window
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.message import DEFAULT_STREAM
from misiva.web.forms import Form
from misiva.web.i18n import N_

# The delay's units, largest first, in minutes.
UNITS = {"days": 1440, "hours": 60, "minutes": 1}
# The tester's periods: the last day or the last week of stored events.
TEST_PERIODS = {1: N_("The last day"), 7: N_("The last 7 days")}
TEST_DAYS = tuple(TEST_PERIODS)
# Six digits: far past a year in any unit, and never a number timedelta cannot hold.
_MAX_DIGITS = 6

BAD_DELAY = N_("The delay must be a whole number of minutes, hours or days.")
BAD_CAP = N_("A cap is a whole number of messages per a whole number of hours, such as 1 per 24.")
HALF_CAP = N_("A cap needs both: how many messages, and over how many hours.")
BAD_DEDUPE = N_("The dedupe window must be a whole number of hours.")
BAD_TIME = N_("A window's time is written HH:MM, such as 09:00.")


@dataclass(frozen=True, slots=True)
class RuleForm:
    """The editor's fields as typed, and the tester's period."""

    key: str = ""
    description: str = ""
    event_name: str = ""
    condition: str = ""
    template: str = ""
    stream: str = DEFAULT_STREAM
    sender: str = ""
    delay: str = "0"
    unit: str = "minutes"
    not_before: str = ""
    not_after: str = ""
    cap_count: str = ""
    cap_hours: str = ""
    dedupe_hours: str = ""
    cancel_on: str = ""
    tag: str = ""
    days: int = TEST_DAYS[0]


def delay_parts(delay: timedelta) -> tuple[int, str]:
    """(3, "days"), (90, "minutes"), (0, "minutes"): the largest unit that divides it."""
    minutes = int(delay.total_seconds() // 60)
    for unit, size in UNITS.items():
        if minutes and minutes % size == 0:
            return minutes // size, unit
    return minutes, "minutes"


def _hhmm(value: time | None) -> str:
    return value.strftime("%H:%M") if value is not None else ""


def _hours(value: timedelta | None) -> str:
    return str(int(value.total_seconds() // 3600)) if value is not None else ""


def stored_form(key: str, d: TriggerDefinition) -> RuleForm:
    count, unit = delay_parts(d.delay)
    return RuleForm(
        key=key,
        description=d.description,
        event_name=d.event_name,
        condition=d.condition or "",
        template=d.template,
        stream=d.stream,
        sender=d.sender,
        delay=str(count),
        unit=unit,
        not_before=_hhmm(d.window.not_before),
        not_after=_hhmm(d.window.not_after),
        cap_count=str(d.cap.count) if d.cap else "",
        cap_hours=_hours(d.cap.period if d.cap else None),
        dedupe_hours=_hours(d.dedupe),
        cancel_on="\n".join(d.cancel_on),
        tag=d.tag or "",
    )


def posted_form(form: Form, key: str | None = None) -> RuleForm:
    """The editor as posted; an existing rule's key comes from its URL, never the form."""
    unit = form.get("unit")
    days = form.get("days")
    return RuleForm(
        key=key if key is not None else form.get("key").strip(),
        description=form.get("description").strip(),
        event_name=form.get("event_name").strip(),
        condition=form.get("condition").strip(),
        template=form.get("template").strip(),
        stream=form.get("stream").strip() or DEFAULT_STREAM,
        sender=form.get("sender").strip(),
        delay=form.get("delay").strip(),
        unit=unit if unit in UNITS else "minutes",
        not_before=form.get("not_before").strip(),
        not_after=form.get("not_after").strip(),
        cap_count=form.get("cap_count").strip(),
        cap_hours=form.get("cap_hours").strip(),
        dedupe_hours=form.get("dedupe_hours").strip(),
        cancel_on=form.get("cancel_on"),
        tag=form.get("tag").strip(),
        days=int(days) if days in {str(d) for d in TEST_DAYS} else TEST_DAYS[0],
    )


def policy(form: Form) -> ScheduledPolicy:
    """What a change does to the rule's waiting messages: keep them unless cancel is chosen."""
    chosen = form.get("scheduled")
    return ScheduledPolicy.CANCEL if chosen == ScheduledPolicy.CANCEL else ScheduledPolicy.KEEP


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def _whole(text: str, problem: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
        raise _invalid(problem)
    return int(text)


def _clock(text: str) -> time | None:
    if not text:
        return None
    if not re.fullmatch(r"\d\d:\d\d", text):
        raise _invalid(BAD_TIME)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise _invalid(BAD_TIME) from None


def _cap(form: RuleForm) -> Cap | None:
    if not form.cap_count and not form.cap_hours:
        return None
    if not form.cap_count or not form.cap_hours:
        raise _invalid(HALF_CAP)
    hours = _whole(form.cap_hours, BAD_CAP)
    return Cap(_whole(form.cap_count, BAD_CAP), timedelta(hours=hours))


def cancel_on(text: str) -> tuple[str, ...]:
    """Event names one per line or comma-separated, each once, in the order written."""
    names = (n.strip() for n in re.split(r"[,\n]", text))
    return tuple(dict.fromkeys(n for n in names if n))


def definition(form: RuleForm) -> TriggerDefinition:
    """The rule the form describes, for the service to check and save; an InvalidRequest for
    what only the form can get wrong."""
    delay = _whole(form.delay or "0", BAD_DELAY) * UNITS[form.unit]
    dedupe = form.dedupe_hours
    return TriggerDefinition(
        event_name=form.event_name,
        template=form.template,
        sender=form.sender,
        stream=form.stream,
        condition=form.condition or None,
        delay=timedelta(minutes=delay),
        window=Window(_clock(form.not_before), _clock(form.not_after)),
        cap=_cap(form),
        dedupe=timedelta(hours=_whole(dedupe, BAD_DEDUPE)) if dedupe else None,
        cancel_on=cancel_on(form.cancel_on),
        tag=form.tag or None,
        description=form.description,
    )
