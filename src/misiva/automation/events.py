"""Accept the events an application reports, in one commit each request: store the event once
per event id, update the contact, cancel what it cancels, and let every rule listening to its
name decide (see evaluate.py); then read events back, one, a server's, or a contact's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from misiva.automation.content import ContactView
from misiva.automation.definitions import check_event_name
from misiva.automation.evaluate import EventContext, evaluate
from misiva.domain.automation import AppEvent, RuleOutcome, ScheduledMessage, Trigger
from misiva.domain.clock import Clock, utcnow
from misiva.domain.contacts import Contact
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.promo import parse_moment as iso_moment
from misiva.domain.records import Server
from misiva.mail.addresses import parse_single_address
from misiva.storage import Database, Tx
from misiva.storage import app_events as event_store
from misiva.storage import contacts as contact_store
from misiva.storage import scheduled as scheduled_store
from misiva.storage import triggers as trigger_store

MAX_EVENT_ID = 100
# A reporter's clock may run a little ahead of ours (as for conversions); further ahead, the
# time is wrong, and delays counted from it would be too.
CLOCK_SKEW = timedelta(minutes=5)
# The profile fields an event's Contact may set (a given field replaces, others stay).
_NOT_PROFILE = frozenset({"server_id", "email", "attributes", "created_at", "updated_at"})
_PROFILE = tuple(f.name for f in fields(Contact) if f.name not in _NOT_PROFILE)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event as reported, checked."""

    name: str
    email: str
    data: dict[str, Any]
    event_id: str
    occurred_at: datetime
    contact: Contact | None = None  # profile fields and attributes to upsert


@dataclass(frozen=True, slots=True)
class Accepted:
    """What accepting one event did: the stored event with each rule's outcome (a repeated
    event id: the first report's, and nothing done again), what it cancelled, and whether a
    message it scheduled is due now (the door wakes the releaser)."""

    event: AppEvent
    duplicate: bool
    cancelled: tuple[str, ...] = ()
    due_now: bool = False


@dataclass(frozen=True, slots=True)
class EventView:
    """An event, and the messages it produced as they are now."""

    event: AppEvent
    messages: tuple[ScheduledMessage, ...]


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def parse_moment(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time as a caller wrote it (without a zone: UTC); None when not given."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(f"'{name}' must be an ISO 8601 date and time.")
    return iso_moment(value, f"'{name}'", UTC).astimezone(UTC)


def _moment(value: Any, now: datetime) -> datetime:
    parsed = parse_moment(value, "OccurredAt")
    if parsed is None:
        return now
    if parsed > now + CLOCK_SKEW:
        raise _invalid(f"'OccurredAt' {value} is in the future.")
    return parsed


def _event_id(value: Any) -> str:
    if value is None or value == "":
        return str(uuid.uuid4())
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _invalid("'EventID' must be text.")
    text = str(value).strip()
    if not text or len(text) > MAX_EVENT_ID or not text.isprintable():
        raise _invalid(f"'EventID' must be 1-{MAX_EVENT_ID} printable characters.")
    return text


def new_event(
    *,
    name: Any,
    email: Any,
    data: Any = None,
    event_id: Any = None,
    occurred_at: Any = None,
    contact: Contact | None = None,
    now: datetime,
) -> NewEvent:
    """An event from what a caller sent; InvalidRequest naming the first field that is wrong."""
    if not isinstance(name, str) or not name:
        raise _invalid("An event needs a 'Name' (such as order.placed).")
    check_event_name(name, "Name")
    if not isinstance(email, str) or not email.strip():
        raise _invalid("An event needs the 'Email' of the person it is about.")
    address = parse_single_address("Email", email).email.lower()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _invalid("'Data' must be a JSON object.")
    return NewEvent(name, address, data, _event_id(event_id), _moment(occurred_at, now), contact)


def merged_contact(existing: Contact | None, given: Contact) -> Contact:
    """The profile after an event's Contact: given fields replace, attributes are merged, and
    nothing the event leaves out is erased (an event is not the contact's whole profile)."""
    if existing is None:
        return given
    changes = {name: getattr(given, name) for name in _PROFILE if getattr(given, name) is not None}
    return replace(existing, **changes, attributes={**existing.attributes, **given.attributes})


class Events:
    """The events API's service; `contact_view` is the send path's `contact` namespace."""

    def __init__(self, db: Database, contact_view: ContactView, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._view = contact_view
        self._clock = clock

    @property
    def now(self) -> datetime:
        return self._clock()

    async def accept(self, server: Server, events: Sequence[NewEvent]) -> list[Accepted]:
        """Every event of a request in one transaction: accepted means committed."""
        if not events:
            return []
        now = self._clock()
        async with self._db.transaction() as tx:
            rules = await trigger_store.list_triggers(tx, server.id)
            await event_store.lock_contacts(tx, server.id, _counted(rules, events))
            return [await self._accept_one(tx, server, rules, event, now) for event in events]

    async def _accept_one(
        self, tx: Tx, server: Server, rules: list[Trigger], new: NewEvent, now: datetime
    ) -> Accepted:
        event, fresh = await event_store.insert_event(
            tx,
            server_id=server.id,
            event_id=new.event_id,
            name=new.name,
            email=new.email,
            data=new.data,
            occurred_at=new.occurred_at,
            now=now,
        )
        if not fresh:
            return Accepted(event, duplicate=True)
        contact = await self._contact(tx, server.id, new, now)
        cancelled = await _cancel_waiting(tx, server.id, event, rules, now)
        context = EventContext(server, event, contact, self._view(contact, event.email), now)
        outcomes: list[RuleOutcome] = []
        for trigger in rules:
            if trigger.definition.event_name == event.name:
                outcomes.append(await evaluate(tx, trigger, context))
        await event_store.set_outcome(tx, event.id, outcomes)
        due = any(o.send_at is not None and o.send_at <= now for o in outcomes)
        return Accepted(replace(event, outcomes=tuple(outcomes)), False, cancelled, due)

    async def _contact(
        self, tx: Tx, server_id: int, new: NewEvent, now: datetime
    ) -> Contact | None:
        existing = await contact_store.get_contact(tx, server_id, new.email)
        if new.contact is None:
            return existing
        contact = merged_contact(existing, replace(new.contact, email=new.email))
        await contact_store.upsert_contacts(tx, [contact], now)
        return contact

    async def get(self, server_id: int, event_id: str) -> EventView:
        async with self._db.reading() as tx:
            event = await event_store.get_event(tx, server_id, event_id)
            if event is None:
                raise NotFound(
                    f"The event {event_id!r} was not found.", ErrorCode.APP_EVENT_NOT_FOUND
                )
            messages = await scheduled_store.for_event(tx, event.id)
        return EventView(event, tuple(messages))

    async def search(
        self,
        server_id: int,
        *,
        name: str | None = None,
        email: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[AppEvent]]:
        async with self._db.reading() as tx:
            return await event_store.list_events(
                tx,
                server_id,
                names=(name,) if name else (),
                email=email,
                since=since,
                limit=limit,
                offset=offset,
            )

    async def history(
        self, server_id: int, email: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AppEvent]]:
        """A contact's activity: the events reported about them, newest first."""
        async with self._db.reading() as tx:
            return await event_store.contact_history(
                tx, server_id, email, limit=limit, offset=offset
            )


def _counted(rules: list[Trigger], events: Sequence[NewEvent]) -> list[str]:
    """The contacts whose events meet a rule with a cap or a dedupe window: what the rule
    decides depends on their messages so far."""
    names = {t.definition.event_name for t in rules if t.definition.cap or t.definition.dedupe}
    return [e.email for e in events if e.name in names]


async def _cancel_waiting(
    tx: Tx, server_id: int, event: AppEvent, rules: list[Trigger], now: datetime
) -> tuple[str, ...]:
    """What waits for the contact from rules this event's name cancels (`request.answered`
    cancels the reminder of `request.received`)."""
    cancelling = [t.id for t in rules if event.name in t.definition.cancel_on]
    waiting = await scheduled_store.waiting_for_contact(tx, server_id, event.email, cancelling)
    reason = f"cancelled by event {event.name} {event.event_id}"
    done = await scheduled_store.cancel(tx, server_id, [w.id for w in waiting], reason, now)
    return tuple(sorted(done))
