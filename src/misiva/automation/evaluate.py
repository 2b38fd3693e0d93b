"""One rule against one stored event, in the event's transaction: paused, condition, cap,
dedupe, the template checked with the event's data, then the message scheduled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from misiva.automation import content, rules
from misiva.domain.automation import (
    HISTORY_KEY,
    HISTORY_SHOWN,
    AppEvent,
    Outcome,
    RuleOutcome,
    Trigger,
    history_view,
)
from misiva.domain.contacts import Contact
from misiva.domain.ids import new_message_id
from misiva.domain.message import SendFields, fields_to_json
from misiva.domain.records import Server
from misiva.storage import Tx
from misiva.storage import app_events as event_store
from misiva.storage import scheduled as scheduled_store


@dataclass
class EventContext:
    """What every rule of one event reads: the server, the event, its contact (as stored and
    as templates see it), the time, and templates already loaded for this contact."""

    server: Server
    event: AppEvent
    contact: Contact | None
    contact_view: Mapping[str, Any]
    now: datetime
    loaded: dict[str, content.Loaded] = field(default_factory=dict)

    history_loaded: bool = False

    async def with_history(self, tx: Tx) -> None:
        """`contact.history` in the view (this event included, newest first), as a send's
        template and block rules see it: loaded once per event, and only when a rule's
        condition or template reads it (a query each event would cost a third of the
        accept; bench/events.py)."""
        if self.history_loaded:
            return
        email = self.event.email
        found = await event_store.recent_by_contact(tx, self.server.id, [email], HISTORY_SHOWN)
        self.contact_view = {**self.contact_view, HISTORY_KEY: history_view(found.get(email, []))}
        self.history_loaded = True

    async def template(self, tx: Tx, ref: str) -> content.Loaded:
        if ref not in self.loaded:
            self.loaded[ref] = await content.load(tx, self.server, ref, self.contact)
        return self.loaded[ref]


def _outcome(trigger: Trigger, outcome: Outcome, reason: str = "") -> RuleOutcome:
    return RuleOutcome(trigger.id, trigger.key, trigger.version, outcome, reason)


async def evaluate(tx: Tx, trigger: Trigger, context: EventContext) -> RuleOutcome:
    """What the rule does with the event; each step is one reason not to send."""
    d, event, now = trigger.definition, context.event, context.now
    if trigger.paused:
        return _outcome(trigger, Outcome.PAUSED, "the rule is paused")
    if d.condition and HISTORY_KEY in d.condition:
        await context.with_history(tx)
    if not rules.holds(d, rules.condition_model(event, context.contact_view)):
        return _outcome(trigger, Outcome.NOT_MATCHED, rules.not_matched(d))
    if d.cap is not None:
        fired = await scheduled_store.fired_since(tx, trigger.id, event.email, now - d.cap.period)
        if fired >= d.cap.count:
            return _outcome(trigger, Outcome.CAPPED, rules.capped(d.cap, fired))
    if d.dedupe is not None and await scheduled_store.fired_since(
        tx, trigger.id, event.email, now - d.dedupe
    ):
        return _outcome(trigger, Outcome.DEDUPLICATED, rules.deduplicated(d.dedupe))
    loaded = await context.template(tx, d.template)
    if loaded.compiled is not None and loaded.compiled.reads("contact", HISTORY_KEY):
        await context.with_history(tx)
    view, server = context.contact_view, context.server
    problem = content.problem_with(loaded, server, event.data, view, d.stream)
    if problem:
        return _outcome(trigger, Outcome.ERROR, problem)
    return await _schedule(tx, trigger, context)


def send_fields(trigger: Trigger, event: AppEvent) -> SendFields:
    """The message as the rule sends it: its template with the event's data as the model."""
    d = trigger.definition
    by_id = d.template.isdigit()
    return SendFields(
        from_=d.sender,
        to=event.email,
        template_id=int(d.template) if by_id else None,
        template_alias=None if by_id else d.template,
        template_model=dict(event.data),
        message_stream=d.stream,
        tag=d.tag or trigger.key,
        metadata={"trigger": trigger.key, "event": event.event_id},
    )


async def _schedule(tx: Tx, trigger: Trigger, context: EventContext) -> RuleOutcome:
    d, event, now = trigger.definition, context.event, context.now
    send_at = rules.send_time(d, event.occurred_at, now, rules.zone_of(context.contact))
    waiting = await scheduled_store.insert_scheduled(
        tx,
        message_id=new_message_id(),
        server_id=context.server.id,
        email=event.email,
        stream=d.stream,
        send_at=send_at,
        fields=fields_to_json(send_fields(trigger, event)),
        now=now,
        trigger_id=trigger.id,
        trigger_version=trigger.version,
        app_event_id=event.id,
    )
    return RuleOutcome(
        trigger.id,
        trigger.key,
        trigger.version,
        Outcome.SCHEDULED,
        "",
        scheduled_id=waiting.id,
        send_at=waiting.send_at,
    )
