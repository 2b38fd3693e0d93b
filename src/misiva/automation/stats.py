"""A rule's counts over a period: what it did with its events (fired, capped, deduplicated,
not matched, paused, errors), where its messages are (waiting, sent, cancelled, failed), and
what the sent ones got (opened, clicked, converted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from misiva.automation.triggers import not_found
from misiva.domain.automation import Outcome, ScheduledStatus
from misiva.domain.conversions import from_micros
from misiva.storage import Database
from misiva.storage import automation_stats as stats_store
from misiva.storage import triggers as trigger_store

DEFAULT_PERIOD = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TriggerStats:
    key: str
    since: datetime
    until: datetime
    outcomes: dict[Outcome, int]  # of the events that happened in the period
    messages: dict[ScheduledStatus, int]  # of the messages scheduled in the period
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency -> total

    @property
    def fired(self) -> int:
        return self.outcomes.get(Outcome.SCHEDULED, 0)


async def trigger_stats(
    db: Database, server_id: int, key: str, since: datetime, until: datetime
) -> TriggerStats:
    async with db.reading() as tx:
        trigger = await trigger_store.get_trigger(tx, server_id, key)
        if trigger is None:
            raise not_found(key)
        names = await trigger_store.event_names(tx, trigger.id)
        outcomes = await stats_store.outcome_counts(tx, server_id, trigger.id, names, since, until)
        messages = await stats_store.scheduled_counts(tx, trigger.id, since, until)
        opened, clicked, converted, micros = await stats_store.engagement(
            tx, server_id, trigger.id, since, until
        )
    return TriggerStats(
        key,
        since,
        until,
        {o: outcomes.get(o, 0) for o in Outcome},
        {s: messages.get(s, 0) for s in ScheduledStatus},
        opened,
        clicked,
        converted,
        {currency: from_micros(value) for currency, value in micros.items()},
    )
