"""The pure steps of deciding what a rule does with an event: the model its condition reads,
whether it holds, the reasons a rule gives, the contact's time zone and the send time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from misiva.domain.automation import AppEvent, Cap, TriggerDefinition, release_time
from misiva.domain.contacts import Contact
from misiva.render.blocks import rule_matches

# The contact attributes that may hold an IANA time zone name, as POST /contacts keeps them.
ZONE_ATTRIBUTES = ("TimeZone", "time_zone", "Timezone", "timezone")


def condition_model(event: AppEvent, contact: Mapping[str, Any]) -> dict[str, Any]:
    """What a condition reads: the event's data, the contact (as templates see it), and the
    event itself (`event.name`, `event.id`, `event.occurred_at`), which win a clash."""
    return {
        **event.data,
        "contact": contact,
        "event": {
            "name": event.name,
            "id": event.event_id,
            "occurred_at": event.occurred_at.isoformat(),
        },
    }


def holds(definition: TriggerDefinition, model: Mapping[str, Any]) -> bool:
    """No condition holds for every event; one that errors on the data (reads a value the
    event lacks) does not hold, as for content blocks."""
    return rule_matches(definition.condition, model)


def duration(value: timedelta) -> str:
    """`3 days`, `2 hours`, `90 minutes`: the largest whole unit."""
    minutes = int(value.total_seconds() // 60)
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0 and minutes >= size:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{int(value.total_seconds())} seconds"


def not_matched(definition: TriggerDefinition) -> str:
    return f"the condition `{definition.condition}` does not hold for this event"


def capped(cap: Cap, fired: int) -> str:
    return (
        f"the contact already got {fired} message(s) from this rule in the last "
        f"{duration(cap.period)} (cap {cap.count})"
    )


def deduplicated(dedupe: timedelta) -> str:
    return f"the rule already fired for this contact in the last {duration(dedupe)}"


def zone_of(contact: Contact | None) -> tzinfo:
    """The contact's time zone (an IANA name in a TimeZone attribute), else UTC: servers have
    no time zone of their own."""
    if contact is not None:
        for name in ZONE_ATTRIBUTES:
            value = contact.attributes.get(name)
            if isinstance(value, str) and value.strip():
                try:
                    return ZoneInfo(value.strip())
                except (ZoneInfoNotFoundError, ValueError):
                    break
    return UTC


def send_time(
    definition: TriggerDefinition, occurred_at: datetime, now: datetime, zone: tzinfo
) -> datetime:
    """The delay counts from when the event happened, but never sends before now (an event
    reported late is not sent in the past); then the contact's local window applies."""
    start = max(occurred_at, now - definition.delay)
    return release_time(start, definition.delay, definition.window, zone).astimezone(UTC)
