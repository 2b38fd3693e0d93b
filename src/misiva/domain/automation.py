"""Event-triggered automation: the events an application reports, the triggers (rules) that
turn them into messages now or later, and the scheduled messages those wait in.

A trigger: on event NAME, when its condition holds over the event's data and the contact,
send template T on stream S after a delay, not before/after a local hour, at most N times a
period per contact, never twice within a dedupe window, and cancelled by a later event."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Final

# Event names are the application's words: `order.placed`, `password.reset_requested`.
EVENT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
TRIGGER_KEY: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_DELAY: Final = timedelta(days=365)


class ScheduledStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time
    SENT = "sent"  # released and accepted: its id is now a MessageID
    CANCELLED = "cancelled"  # by API, UI, CLI, or a cancelling event
    FAILED = "failed"  # released and refused (a template error, a suppressed address...)


class Outcome(enum.StrEnum):
    """What one trigger did with one event (shown on the event's page, counted per rule)."""

    SCHEDULED = "scheduled"  # fired: a message now or later
    NOT_MATCHED = "not_matched"  # the condition did not hold
    PAUSED = "paused"
    CAPPED = "capped"  # the contact reached the rule's frequency cap
    DEDUPLICATED = "deduplicated"  # the rule fired for the contact within its dedupe window
    ERROR = "error"  # it would have sent a broken email (a missing variable): none sent


@dataclass(frozen=True, slots=True)
class Window:
    """Local hours a message may leave in (the contact's time zone): `not_before` 09:00,
    `not_after` 20:00; either may be None."""

    not_before: time | None = None
    not_after: time | None = None


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `count` messages from this rule per contact per `period`."""

    count: int
    period: timedelta


@dataclass(frozen=True, slots=True)
class TriggerDefinition:
    """One version of a rule, as marketing wrote it."""

    event_name: str
    template: str  # the template's alias (or its id as text)
    sender: str  # the From address
    stream: str = "outbound"
    condition: str | None = None  # a safe expression over the event data and `contact`
    delay: timedelta = timedelta(0)
    window: Window = field(default_factory=Window)
    cap: Cap | None = None
    dedupe: timedelta | None = None
    cancel_on: tuple[str, ...] = ()  # later events of the contact that cancel what is waiting
    tag: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Trigger:
    id: int
    server_id: int
    key: str
    version: int
    definition: TriggerDefinition
    paused: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TriggerVersion:
    """One saved version of a rule, as it was written, by whom and when."""

    trigger_id: int
    version: int
    definition: TriggerDefinition
    author: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One trigger's answer to one event: what it did and why, and what it scheduled."""

    trigger_id: int
    trigger_key: str
    version: int
    outcome: Outcome
    reason: str = ""
    scheduled_id: str | None = None  # the scheduled message (and future MessageID)
    send_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppEvent:
    id: int
    server_id: int
    event_id: str
    name: str
    email: str
    data: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    outcomes: tuple[RuleOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduledMessage:
    id: str  # also the MessageID it is accepted with
    server_id: int
    email: str
    stream: str
    send_at: datetime
    status: ScheduledStatus
    fields: dict[str, Any]  # the send, domain.message.SendFields as JSON (scheduled_fields)
    trigger_id: int | None
    trigger_version: int | None
    app_event_id: int | None
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime


def release_time(fired_at: datetime, delay: timedelta, window: Window, zone: tzinfo) -> datetime:
    """When a message fired at `fired_at` leaves: after its delay, moved forward to the next
    moment inside the local window (the same day's `not_before`, else the next day's)."""
    due = fired_at + delay
    if window.not_before is None and window.not_after is None:
        return due
    local = due.astimezone(zone)
    start = window.not_before or time(0, 0)
    end = window.not_after
    # From yesterday: a window that wraps midnight (22:00-06:00) opened the day before.
    day = local.date() - timedelta(days=1)
    for _ in range(3):
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = datetime.combine(day, end, tzinfo=zone) if end is not None else None
        if closes is not None and closes <= opens:
            closes += timedelta(days=1)
        if local < opens:
            return opens.astimezone(due.tzinfo)
        if closes is None or local < closes:
            return due
        day += timedelta(days=1)
    return due


# `contact.history` in templates, block rules and trigger conditions: the contact's latest
# events, newest first. Enough for "your last order" and "first purchase?" rules; bounded,
# since it is read for every send that uses it.
HISTORY_SHOWN: Final = 20
HISTORY_KEY: Final = "history"


def history_view(events: list[AppEvent]) -> list[dict[str, Any]]:
    """The events as templates see them: name, when, the event's id and its data."""
    return [
        {
            "name": e.name,
            "occurred_at": e.occurred_at,
            "event_id": e.event_id,
            "data": e.data,
        }
        for e in events
    ]
