"""Triggers in the API's shapes (docs/automation.md): a rule's JSON fields in, checked for
their types with messages that name them, and rules, versions, dry runs and counts out.

Durations are whole numbers of one unit each: DelayMinutes (0 to 525600, a year),
Cap.PeriodHours and DedupeHours; a window's hours are "HH:MM" in the contact's time zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta
from typing import Any

from misiva.api.routes_conversions import money
from misiva.automation.definitions import MAX_CAP_COUNT
from misiva.automation.dry_run import DryRun
from misiva.automation.stats import TriggerStats
from misiva.domain.automation import (
    Cap,
    Outcome,
    ScheduledStatus,
    Trigger,
    TriggerDefinition,
    TriggerVersion,
)
from misiva.domain.automation import Window as TriggerWindow
from misiva.domain.errors import InvalidRequest

_MINUTES_IN_A_YEAR = 365 * 24 * 60
_HOURS_IN_A_YEAR = 365 * 24
# Fields a reader gets back and may send again unchanged (a GET, edited, then PATCHed).
_READ_ONLY = frozenset(
    {"ID", "Key", "Version", "Paused", "CreatedAt", "UpdatedAt", "Scheduled", "CancelledScheduled"}
)
_FIELDS = frozenset(
    {
        "EventName",
        "Condition",
        "Template",
        "From",
        "MessageStream",
        "DelayMinutes",
        "Window",
        "Cap",
        "DedupeHours",
        "CancelOn",
        "Tag",
        "Description",
    }
)


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message)


def _text(body: dict[str, Any], name: str, fallback: str | None) -> str | None:
    value = body.get(name, fallback)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(f"Invalid '{name}' value: expected a string.")


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"'{name}' must be a whole number from {low} to {high}.")
    return value


def _clock(value: Any, name: str) -> time | None:
    if value is None or value == "":
        return None
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or len(str(value)) != 5 or parsed.second or parsed.tzinfo:
        raise _invalid(f"'{name}' must be a local time as HH:MM, such as 09:00.")
    return parsed


def _window(value: Any) -> TriggerWindow:
    if value is None:
        return TriggerWindow()
    if not isinstance(value, dict):
        raise _invalid('\'Window\' must be {"NotBefore": "09:00", "NotAfter": "20:00"}.')
    return TriggerWindow(
        _clock(value.get("NotBefore"), "Window.NotBefore"),
        _clock(value.get("NotAfter"), "Window.NotAfter"),
    )


def _cap(value: Any) -> Cap | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid('\'Cap\' must be {"Count": 1, "PeriodHours": 24}.')
    count = _whole(value.get("Count"), "Cap.Count", 1, MAX_CAP_COUNT)
    hours = _whole(value.get("PeriodHours"), "Cap.PeriodHours", 1, _HOURS_IN_A_YEAR)
    return Cap(count, timedelta(hours=hours))


def _cancel_on(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid("'CancelOn' must be a list of event names.")
    return tuple(dict.fromkeys(value))


def _template(body: dict[str, Any], fallback: str) -> str:
    value = body.get("Template", fallback)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _invalid("'Template' must be the template's alias or id.")
    return value.strip()


def parse_definition(body: Any, base: TriggerDefinition | None = None) -> TriggerDefinition:
    """A rule from a request body; on PATCH (a `base`), the fields not given keep its values."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    unknown = sorted(set(body) - _FIELDS - _READ_ONLY)
    if unknown:
        raise _invalid(f"Unknown field {unknown[0]!r}; a trigger has {', '.join(sorted(_FIELDS))}.")
    if base is None:
        for name in ("EventName", "Template", "From"):
            if not body.get(name):
                raise _invalid(f"A trigger needs '{name}'.")
        base = TriggerDefinition(event_name="", template="", sender="")
    delay = base.delay
    if "DelayMinutes" in body:
        delay = timedelta(
            minutes=_whole(body["DelayMinutes"] or 0, "DelayMinutes", 0, _MINUTES_IN_A_YEAR)
        )
    dedupe = base.dedupe
    if "DedupeHours" in body:
        given = body["DedupeHours"]
        dedupe = (
            None
            if given is None
            else timedelta(hours=_whole(given, "DedupeHours", 1, _HOURS_IN_A_YEAR))
        )
    return replace(
        base,
        event_name=_text(body, "EventName", base.event_name) or "",
        template=_template(body, base.template),
        sender=_text(body, "From", base.sender) or "",
        stream=_text(body, "MessageStream", base.stream) or "outbound",
        condition=(_text(body, "Condition", base.condition) or "").strip() or None,
        delay=delay,
        window=_window(body["Window"]) if "Window" in body else base.window,
        cap=_cap(body["Cap"]) if "Cap" in body else base.cap,
        dedupe=dedupe,
        cancel_on=_cancel_on(body["CancelOn"]) if "CancelOn" in body else base.cancel_on,
        tag=_text(body, "Tag", base.tag) or None,
        description=_text(body, "Description", base.description) or "",
    )


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def definition_json(d: TriggerDefinition) -> dict[str, Any]:
    window = d.window
    return {
        "EventName": d.event_name,
        "Condition": d.condition,
        "Template": d.template,
        "From": d.sender,
        "MessageStream": d.stream,
        "DelayMinutes": int(d.delay.total_seconds() // 60),
        "Window": None
        if window.not_before is None and window.not_after is None
        else {"NotBefore": _hhmm(window.not_before), "NotAfter": _hhmm(window.not_after)},
        "Cap": None
        if d.cap is None
        else {"Count": d.cap.count, "PeriodHours": int(d.cap.period.total_seconds() // 3600)},
        "DedupeHours": None if d.dedupe is None else int(d.dedupe.total_seconds() // 3600),
        "CancelOn": list(d.cancel_on),
        "Tag": d.tag,
        "Description": d.description,
    }


def trigger_json(trigger: Trigger) -> dict[str, Any]:
    return {
        "ID": trigger.id,
        "Key": trigger.key,
        "Version": trigger.version,
        "Paused": trigger.paused,
        **definition_json(trigger.definition),
        "CreatedAt": trigger.created_at.isoformat(),
        "UpdatedAt": trigger.updated_at.isoformat(),
    }


def version_json(version: TriggerVersion) -> dict[str, Any]:
    return {
        "Version": version.version,
        "Author": version.author,
        "CreatedAt": version.created_at.isoformat(),
        **definition_json(version.definition),
    }


def dry_run_json(run: DryRun) -> dict[str, Any]:
    return {
        "Since": run.since.isoformat(),
        "Until": run.until.isoformat(),
        "TotalEvents": run.total,
        "Tested": len(run.tried),
        "WouldFire": run.fired,
        "Events": [
            {
                "EventID": t.event.event_id,
                "Email": t.event.email,
                "OccurredAt": t.event.occurred_at.isoformat(),
                "Outcome": t.outcome.value,
                "Reason": t.reason,
                "SendAt": t.send_at.isoformat() if t.send_at else None,
                "Subject": t.subject,
            }
            for t in run.tried
        ],
    }


def stats_json(found: TriggerStats) -> dict[str, Any]:
    o, m = found.outcomes, found.messages
    return {
        "Key": found.key,
        "Since": found.since.isoformat(),
        "Until": found.until.isoformat(),
        "Fired": o[Outcome.SCHEDULED],
        "Capped": o[Outcome.CAPPED],
        "Deduplicated": o[Outcome.DEDUPLICATED],
        "NotMatched": o[Outcome.NOT_MATCHED],
        "Paused": o[Outcome.PAUSED],
        "Errors": o[Outcome.ERROR],
        "Waiting": m[ScheduledStatus.SCHEDULED],
        "Sent": m[ScheduledStatus.SENT],
        "Cancelled": m[ScheduledStatus.CANCELLED],
        "Failed": m[ScheduledStatus.FAILED],
        "Opened": found.opened,
        "Clicked": found.clicked,
        "Converted": found.converted,
        "Revenue": money(found.revenue),
    }
