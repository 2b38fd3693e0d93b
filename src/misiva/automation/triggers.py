"""Triggers as marketing manages them: create (checked), change into a new version, pause,
resume, delete, read their versions; and what a change does to messages already scheduled
(nothing, unless asked: `Scheduled: cancel`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from misiva.automation.definitions import check_fields, check_key, check_references
from misiva.domain.automation import Trigger, TriggerDefinition, TriggerVersion
from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.storage import Database, Tx
from misiva.storage import scheduled as scheduled_store
from misiva.storage import triggers as trigger_store

_SLICE = 1000


class ScheduledPolicy(StrEnum):
    """What a change to a rule does to the messages it already scheduled."""

    KEEP = "keep"  # they leave as scheduled, with the content they were scheduled with
    CANCEL = "cancel"  # every one still waiting is cancelled

    @classmethod
    def parse(cls, value: object) -> ScheduledPolicy:
        if value is None or value == "":
            return cls.KEEP
        try:
            return cls(str(value).lower())
        except ValueError:
            raise InvalidRequest(
                f"'Scheduled' must be 'keep' (the default) or 'cancel', not {value!r}."
            ) from None


@dataclass(frozen=True, slots=True)
class Changed:
    """A rule after a change (None once deleted) and how many waiting messages it cancelled."""

    trigger: Trigger | None
    cancelled: int = 0


def not_found(key: str) -> NotFound:
    return NotFound(f"The trigger {key!r} was not found.", ErrorCode.TRIGGER_NOT_FOUND)


async def apply_to_scheduled(
    tx: Tx, trigger: Trigger, policy: ScheduledPolicy, change: str, now: datetime
) -> int:
    """A rule change never touches what it already scheduled, unless asked to cancel it."""
    if policy is ScheduledPolicy.KEEP:
        return 0
    reason = f"cancelled when trigger {trigger.key} was {change}"
    waiting = await trigger_store.waiting_from(tx, trigger.server_id, trigger.id)
    cancelled = 0
    # In slices: a statement's parameters are bounded (SQLite's 32,766).
    for start in range(0, len(waiting), _SLICE):
        ids = waiting[start : start + _SLICE]
        cancelled += len(await scheduled_store.cancel(tx, trigger.server_id, ids, reason, now))
    return cancelled


class Triggers:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        server_id: int,
        key: str,
        definition: TriggerDefinition,
        *,
        author: str | None = None,
        paused: bool = False,
    ) -> Trigger:
        check_key(key)
        check_fields(definition)
        async with self._db.transaction() as tx:
            await check_references(tx, server_id, definition)
            if await trigger_store.get_trigger(tx, server_id, key) is not None:
                raise Conflict(f"A trigger with key '{key}' already exists.")
            return await trigger_store.create_trigger(
                tx, server_id, key, definition, self._clock(), author=author, paused=paused
            )

    async def get(self, server_id: int, key: str) -> Trigger:
        async with self._db.reading() as tx:
            return await _found(tx, server_id, key)

    async def all(self, server_id: int) -> list[Trigger]:
        async with self._db.reading() as tx:
            return await trigger_store.list_triggers(tx, server_id)

    async def update(
        self,
        server_id: int,
        key: str,
        definition: TriggerDefinition,
        *,
        scheduled: ScheduledPolicy = ScheduledPolicy.KEEP,
        author: str | None = None,
    ) -> Changed:
        """A new version; the messages the old one scheduled stay unless `scheduled` cancels."""
        check_fields(definition)
        now = self._clock()
        async with self._db.transaction() as tx:
            current = await _found(tx, server_id, key)
            await check_references(tx, server_id, definition)
            changed = await trigger_store.update_trigger(
                tx, current, definition, now, author=author
            )
            if changed is None:
                raise Conflict(f"The trigger '{key}' was changed meanwhile; read it and retry.")
            cancelled = await apply_to_scheduled(tx, current, scheduled, "changed", now)
        return Changed(changed, cancelled)

    async def pause(
        self, server_id: int, key: str, *, scheduled: ScheduledPolicy = ScheduledPolicy.KEEP
    ) -> Changed:
        return await self._set_paused(server_id, key, True, scheduled)

    async def resume(self, server_id: int, key: str) -> Changed:
        return await self._set_paused(server_id, key, False, ScheduledPolicy.KEEP)

    async def _set_paused(
        self, server_id: int, key: str, paused: bool, scheduled: ScheduledPolicy
    ) -> Changed:
        now = self._clock()
        async with self._db.transaction() as tx:
            current = await _found(tx, server_id, key)
            changed = await trigger_store.set_paused(tx, server_id, current.id, paused, now)
            cancelled = await apply_to_scheduled(tx, current, scheduled, "paused", now)
        return Changed(changed, cancelled)

    async def delete(
        self, server_id: int, key: str, *, scheduled: ScheduledPolicy = ScheduledPolicy.KEEP
    ) -> Changed:
        """The rule and its versions; what it scheduled still leaves unless cancelled here."""
        now = self._clock()
        async with self._db.transaction() as tx:
            current = await _found(tx, server_id, key)
            cancelled = await apply_to_scheduled(tx, current, scheduled, "deleted", now)
            await trigger_store.delete_trigger(tx, server_id, current.id)
        return Changed(None, cancelled)

    async def versions(self, server_id: int, key: str) -> list[TriggerVersion]:
        """Every version of the rule, newest first."""
        async with self._db.reading() as tx:
            current = await _found(tx, server_id, key)
            return await trigger_store.list_versions(tx, current.id)

    async def version(self, server_id: int, key: str, number: int) -> TriggerVersion:
        async with self._db.reading() as tx:
            current = await _found(tx, server_id, key)
            found = await trigger_store.get_version(tx, current.id, number)
        if found is None:
            raise NotFound(
                f"The trigger {key!r} has no version {number}.", ErrorCode.TRIGGER_NOT_FOUND
            )
        return found


async def _found(tx: Tx, server_id: int, key: str) -> Trigger:
    found = await trigger_store.get_trigger(tx, server_id, key)
    if found is None:
        raise not_found(key)
    return found
