"""A rule's dry run: which stored events of a period it would have fired on (as saved, or as
written and not yet saved), why not for the others, when each message would have left and
with which subject. Nothing is stored, scheduled or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from misiva.automation import content, rules
from misiva.automation.content import ContactView
from misiva.automation.definitions import check_fields
from misiva.domain.automation import (
    HISTORY_KEY,
    HISTORY_SHOWN,
    AppEvent,
    Outcome,
    TriggerDefinition,
    history_view,
)
from misiva.domain.contacts import Contact
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.records import Server
from misiva.storage import Database, Tx
from misiva.storage import app_events as event_store
from misiva.storage import contacts as contact_store

# A dry run answers on one page: the newest thousand events of the period at most.
MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class Tried:
    """What the rule would have done with one event."""

    event: AppEvent
    outcome: Outcome
    reason: str = ""
    send_at: datetime | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class DryRun:
    since: datetime
    until: datetime
    total: int  # the events of the rule's name in the period
    tried: tuple[Tried, ...]  # the newest MAX_EVENTS of them, oldest first

    @property
    def fired(self) -> int:
        return sum(1 for t in self.tried if t.outcome is Outcome.SCHEDULED)


def yesterday(now: datetime) -> tuple[datetime, datetime]:
    """The day before today, in UTC: the default period."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today


def period(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    default_since, default_until = yesterday(now)
    start, end = since or default_since, until or default_until
    if since is not None and until is None:
        end = now
    if end <= start:
        raise InvalidRequest("'Until' must be after 'Since'.", ErrorCode.INVALID_REQUEST)
    return start, end


class _Run:
    """One dry run's state: the messages the rule would have scheduled so far, per contact
    (what its cap and dedupe window count; history before the period is not), and the
    template loaded once per contact locale."""

    def __init__(self, tx: Tx, server: Server, definition: TriggerDefinition) -> None:
        self.tx, self.server, self.definition = tx, server, definition
        self._fired: dict[str, list[datetime]] = {}
        self._loaded: dict[str | None, content.Loaded] = {}

    def fired_since(self, email: str, moment: datetime) -> int:
        return sum(1 for at in self._fired.get(email, ()) if at >= moment)

    def fire(self, email: str, at: datetime) -> None:
        self._fired.setdefault(email, []).append(at)

    async def template(self, contact: Contact | None) -> content.Loaded:
        locale = contact.locale if contact else None
        if locale not in self._loaded:
            ref = self.definition.template
            self._loaded[locale] = await content.load(self.tx, self.server, ref, contact)
        return self._loaded[locale]


async def dry_run(
    db: Database,
    server: Server,
    definition: TriggerDefinition,
    contact_view: ContactView,
    *,
    since: datetime,
    until: datetime,
) -> DryRun:
    """The rule over the period's events in the order they happened, as if it had been
    running then (paused or not)."""
    check_fields(definition)
    async with db.reading() as tx:
        total, newest = await event_store.list_events(
            tx,
            server.id,
            names=(definition.event_name,),
            since=since,
            until=until,
            limit=MAX_EVENTS,
        )
        events = list(reversed(newest))
        contacts = await contact_store.get_contacts(tx, server.id, [e.email for e in events])
        run = _Run(tx, server, definition)
        tried = [await _try(run, e, contacts.get(e.email), contact_view) for e in events]
    return DryRun(since, until, total, tuple(tried))


async def _try(
    run: _Run, event: AppEvent, contact: Contact | None, contact_view: ContactView
) -> Tried:
    d, at = run.definition, event.occurred_at
    view = contact_view(contact, event.email)
    loaded = await run.template(contact)
    reads_history = loaded.compiled is not None and loaded.compiled.reads("contact", HISTORY_KEY)
    if reads_history or (d.condition and HISTORY_KEY in d.condition):
        # The history as it stood when the event happened, as the rule would have seen it.
        found = await event_store.recent_by_contact(
            run.tx, run.server.id, [event.email], HISTORY_SHOWN, until=at
        )
        view = {**view, HISTORY_KEY: history_view(found.get(event.email, []))}
    if not rules.holds(d, rules.condition_model(event, view)):
        return Tried(event, Outcome.NOT_MATCHED, rules.not_matched(d))
    if d.cap is not None:
        fired = run.fired_since(event.email, at - d.cap.period)
        if fired >= d.cap.count:
            return Tried(event, Outcome.CAPPED, rules.capped(d.cap, fired))
    if d.dedupe is not None and run.fired_since(event.email, at - d.dedupe) > 0:
        return Tried(event, Outcome.DEDUPLICATED, rules.deduplicated(d.dedupe))
    subject, problem = content.subject_of(loaded, run.server, event.data, view, d.stream)
    if problem:
        return Tried(event, Outcome.ERROR, problem)
    run.fire(event.email, at)
    send_at = rules.send_time(d, at, at, rules.zone_of(contact))
    return Tried(event, Outcome.SCHEDULED, send_at=send_at, subject=subject)
