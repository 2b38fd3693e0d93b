"""Triggers (rules) and their versions: create one at version 1, change it into a new version,
pause and resume it, read it by id or key, list a server's, delete it with its history, and
find what still waits from it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from misiva.domain.automation import (
    Cap,
    ScheduledStatus,
    Trigger,
    TriggerDefinition,
    TriggerVersion,
    Window,
)
from misiva.storage.engine import Tx
from misiva.storage.tables_automation import scheduled_messages, trigger_versions, triggers

_t = triggers
_v = trigger_versions


def _clock_time(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def definition_to_json(definition: TriggerDefinition) -> dict[str, Any]:
    """A definition as stored: durations in seconds, local hours as "HH:MM"."""
    cap = definition.cap
    return {
        "event_name": definition.event_name,
        "template": definition.template,
        "sender": definition.sender,
        "stream": definition.stream,
        "condition": definition.condition,
        "delay_seconds": int(definition.delay.total_seconds()),
        "window": {
            "not_before": _clock_time(definition.window.not_before),
            "not_after": _clock_time(definition.window.not_after),
        },
        "cap": None
        if cap is None
        else {"count": cap.count, "period_seconds": int(cap.period.total_seconds())},
        "dedupe_seconds": None
        if definition.dedupe is None
        else int(definition.dedupe.total_seconds()),
        "cancel_on": list(definition.cancel_on),
        "tag": definition.tag,
        "description": definition.description,
    }


def _parse_time(value: Any) -> time | None:
    return time.fromisoformat(value) if value else None


def definition_from_json(stored: dict[str, Any]) -> TriggerDefinition:
    window = stored.get("window") or {}
    cap = stored.get("cap")
    dedupe = stored.get("dedupe_seconds")
    return TriggerDefinition(
        event_name=str(stored["event_name"]),
        template=str(stored["template"]),
        sender=str(stored["sender"]),
        stream=str(stored.get("stream") or "outbound"),
        condition=stored.get("condition") or None,
        delay=timedelta(seconds=int(stored.get("delay_seconds") or 0)),
        window=Window(_parse_time(window.get("not_before")), _parse_time(window.get("not_after"))),
        cap=None
        if not cap
        else Cap(int(cap["count"]), timedelta(seconds=int(cap["period_seconds"]))),
        dedupe=None if dedupe is None else timedelta(seconds=int(dedupe)),
        cancel_on=tuple(stored.get("cancel_on") or ()),
        tag=stored.get("tag") or None,
        description=str(stored.get("description") or ""),
    )


def _trigger(row: Any) -> Trigger:
    return Trigger(
        id=int(row.id),
        server_id=row.server_id,
        key=row.key,
        version=int(row.version),
        definition=definition_from_json(dict(row.definition)),
        paused=bool(row.paused),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _add_version(
    tx: Tx, trigger_id: int, version: int, stored: dict[str, Any], author: str | None, now: datetime
) -> None:
    await tx.execute(
        sa.insert(_v).values(
            trigger_id=trigger_id,
            version=version,
            definition=stored,
            author=author,
            created_at=now,
        )
    )


async def create_trigger(
    tx: Tx,
    server_id: int,
    key: str,
    definition: TriggerDefinition,
    now: datetime,
    *,
    author: str | None = None,
    paused: bool = False,
) -> Trigger:
    """The rule at version 1, its first version recorded beside it."""
    stored = definition_to_json(definition)
    row = (
        await tx.execute(
            sa.insert(_t)
            .values(
                server_id=server_id,
                key=key,
                event_name=definition.event_name,
                version=1,
                definition=stored,
                paused=paused,
                created_at=now,
                updated_at=now,
            )
            .returning(*_t.c)
        )
    ).one()
    await _add_version(tx, int(row.id), 1, stored, author, now)
    return _trigger(row)


async def update_trigger(
    tx: Tx,
    trigger: Trigger,
    definition: TriggerDefinition,
    now: datetime,
    *,
    author: str | None = None,
) -> Trigger | None:
    """A new version of the rule: the next number, recorded, and current from now on. Guarded
    by the version read, so two changes made at once cannot both become the same version:
    None when the rule changed (or went) since it was read."""
    stored = definition_to_json(definition)
    row = (
        await tx.execute(
            sa.update(_t)
            .where(_t.c.id == trigger.id, _t.c.version == trigger.version)
            .values(
                version=_t.c.version + 1,
                event_name=definition.event_name,
                definition=stored,
                updated_at=now,
            )
            .returning(*_t.c)
        )
    ).first()
    if row is None:
        return None
    await _add_version(tx, trigger.id, int(row.version), stored, author, now)
    return _trigger(row)


async def set_paused(
    tx: Tx, server_id: int, trigger_id: int, paused: bool, now: datetime
) -> Trigger | None:
    row = (
        await tx.execute(
            sa.update(_t)
            .where(_t.c.server_id == server_id, _t.c.id == trigger_id)
            .values(paused=paused, updated_at=now)
            .returning(*_t.c)
        )
    ).first()
    return _trigger(row) if row is not None else None


async def get_trigger(tx: Tx, server_id: int, key: str) -> Trigger | None:
    query = sa.select(_t).where(_t.c.server_id == server_id, _t.c.key == key)
    row = (await tx.execute(query)).first()
    return _trigger(row) if row is not None else None


async def get_trigger_by_id(tx: Tx, server_id: int, trigger_id: int) -> Trigger | None:
    query = sa.select(_t).where(_t.c.server_id == server_id, _t.c.id == trigger_id)
    row = (await tx.execute(query)).first()
    return _trigger(row) if row is not None else None


async def list_triggers(tx: Tx, server_id: int) -> list[Trigger]:
    """A server's rules by key (a server has tens, not thousands: read whole)."""
    query = sa.select(_t).where(_t.c.server_id == server_id).order_by(_t.c.key)
    return [_trigger(row) for row in await tx.execute(query)]


async def for_event(
    tx: Tx, server_id: int, event_name: str, *, include_paused: bool = False
) -> list[Trigger]:
    """The rules listening to an event name (the running ones, or all of them)."""
    query = sa.select(_t).where(_t.c.server_id == server_id, _t.c.event_name == event_name)
    if not include_paused:
        query = query.where(_t.c.paused == sa.false())
    return [_trigger(row) for row in await tx.execute(query.order_by(_t.c.key))]


def _version(row: Any) -> TriggerVersion:
    return TriggerVersion(
        trigger_id=int(row.trigger_id),
        version=int(row.version),
        definition=definition_from_json(dict(row.definition)),
        author=row.author,
        created_at=row.created_at,
    )


async def list_versions(tx: Tx, trigger_id: int) -> list[TriggerVersion]:
    """Every version of a rule, newest first."""
    query = sa.select(_v).where(_v.c.trigger_id == trigger_id).order_by(_v.c.version.desc())
    return [_version(row) for row in await tx.execute(query)]


async def get_version(tx: Tx, trigger_id: int, version: int) -> TriggerVersion | None:
    query = sa.select(_v).where(_v.c.trigger_id == trigger_id, _v.c.version == version)
    row = (await tx.execute(query)).first()
    return _version(row) if row is not None else None


async def event_names(tx: Tx, trigger_id: int) -> list[str]:
    """Every event name the rule listened to in any version (what its history is about)."""
    rows = await tx.execute(sa.select(_v.c.definition).where(_v.c.trigger_id == trigger_id))
    return sorted({str(definition["event_name"]) for (definition,) in rows})


async def delete_trigger(tx: Tx, server_id: int, trigger_id: int) -> bool:
    """The rule and its versions. What it scheduled stays (trigger_id has no foreign key):
    the caller decides whether it is cancelled or still sent."""
    found = await get_trigger_by_id(tx, server_id, trigger_id)
    if found is None:
        return False
    await tx.execute(sa.delete(_v).where(_v.c.trigger_id == trigger_id))
    await tx.execute(sa.delete(_t).where(_t.c.server_id == server_id, _t.c.id == trigger_id))
    return True


async def waiting_from(tx: Tx, server_id: int, trigger_id: int) -> list[str]:
    """The messages still waiting from the rule (what `Scheduled: cancel` cancels, through
    storage.scheduled.cancel, which leaves alone one being released)."""
    s = scheduled_messages
    query = sa.select(s.c.id).where(
        s.c.server_id == server_id,
        s.c.trigger_id == trigger_id,
        s.c.status == ScheduledStatus.SCHEDULED.value,
    )
    return list((await tx.execute(query)).scalars())
