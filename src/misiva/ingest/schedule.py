"""SendAt: a send that names a future time is checked now, answered with the MessageID it
will have, and stored as a scheduled message until the releaser (ingest.scheduled) accepts
it; and cancelling one that still waits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from misiva.domain.automation import MAX_DELAY, ScheduledMessage, ScheduledStatus
from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.ids import new_message_id
from misiva.domain.message import SendFields, SendRequest, SendResult, fields_to_json
from misiva.domain.templates import TemplateType
from misiva.ingest.accept import (
    IDEMPOTENCY_WINDOW,
    Ingestor,
    error_result,
    results_from_json,
    results_to_json,
)
from misiva.ingest.tenants import ServerContext
from misiva.storage import Database, Tx
from misiva.storage import idempotency as idempotency_store
from misiva.storage import scheduled as scheduled_store
from misiva.storage import templates as template_store


class SendScheduler:
    """Sends now or later: what is due now goes through accept as always, what names a
    future SendAt waits as a scheduled message. One request may mix both (a batch)."""

    def __init__(self, db: Database, ingestor: Ingestor, clock: Clock = utcnow) -> None:
        self._db = db
        self._ingestor = ingestor
        self._clock = clock

    async def send_or_schedule(
        self,
        context: ServerContext,
        items: Sequence[SendFields | MisivaError],
        send_at: Sequence[datetime | None],
        *,
        idempotency_key: str | None = None,
    ) -> list[SendResult]:
        """Each item's result, in order. A SendAt in the past or now sends at once.

        With an Idempotency-Key, the scheduled part's answer is remembered under a key
        derived from it, with each item's place in the request, and the part sent now under
        the key itself (accept's own). A retry replays both, and the remembered places decide
        the split again: an item whose SendAt has passed meanwhile is not sent a second time.
        """
        now = self._clock()
        server_id = context.server.id
        key = _scheduled_key(idempotency_key) if idempotency_key else None
        results = await self._replay(server_id, key, now) if key else None
        if results is None:
            later = {i: at for i, at in enumerate(send_at) if at is not None and at > now}
            results = await self._schedule(context, items, later, key, now) if later else {}
        rest = [i for i in range(len(items)) if i not in results]
        if rest:
            accepted = await self._ingestor.accept(
                context, [items[i] for i in rest], idempotency_key=idempotency_key
            )
            results.update(zip(rest, accepted, strict=True))
        return [results[i] for i in range(len(items))]

    async def _schedule(
        self,
        context: ServerContext,
        items: Sequence[SendFields | MisivaError],
        later: dict[int, datetime],
        key: str | None,
        now: datetime,
    ) -> dict[int, SendResult]:
        places = sorted(later)
        chosen = [items[i] for i in places]
        checked = await self._ingestor.check_for_later(context, chosen)
        templates = await self._existing_templates(context.server.id, chosen)
        results: dict[int, SendResult] = {}
        rows: list[dict[str, Any]] = []
        for place, item, check in zip(places, chosen, checked, strict=True):
            if isinstance(check, SendResult):
                results[place] = check
                continue
            assert isinstance(item, SendFields)
            try:
                _check_later(item, check, later[place], now, templates)
            except MisivaError as error:
                results[place] = error_result(item.to, error)
                continue
            row = _row(context.server.id, item, check, later[place], now)
            rows.append(row)
            results[place] = SendResult(
                to=check.to_given,
                submitted_at=now,
                message_id=row["message_id"],
                error_code=ErrorCode.OK,
                message=f"Scheduled for {later[place].astimezone(UTC).isoformat()}.",
            )
        if rows:
            stored = await self._store(context.server.id, rows, results, key, now)
            if stored is not None:
                return stored
        return results

    async def _store(
        self,
        server_id: int,
        rows: list[dict[str, Any]],
        results: dict[int, SendResult],
        key: str | None,
        now: datetime,
    ) -> dict[int, SendResult] | None:
        """Store the rows and remember the answer, in one commit; what another request with
        the same key answered if it got there first (None: this request's answer stands)."""
        try:
            async with self._db.transaction() as tx:
                if key is not None and not await _remember(tx, server_id, key, results, now):
                    raise _Raced
                for row in rows:
                    await scheduled_store.insert_scheduled(tx, now=now, **row)
        except _Raced:
            replay = await self._replay(server_id, key or "", now)
            if replay is None:
                raise _Raced from None
            return replay
        return None

    async def _existing_templates(
        self, server_id: int, items: Sequence[SendFields | MisivaError]
    ) -> set[str]:
        refs = {_template_ref(i) for i in items if isinstance(i, SendFields) and i.uses_template}
        if not refs:
            return set()
        found: set[str] = set()
        async with self._db.reading() as tx:
            for ref in refs:
                template = await template_store.get_template(tx, server_id, ref)
                if template is not None and template.template_type is TemplateType.STANDARD:
                    found.add(ref)
        return found

    async def _replay(
        self, server_id: int, key: str, now: datetime
    ) -> dict[int, SendResult] | None:
        async with self._db.reading() as tx:
            found = await idempotency_store.find_response(
                tx, server_id, key, now - IDEMPOTENCY_WINDOW
            )
        return _from_json(found[1]) if found else None


async def cancel_scheduled(
    db: Database, server_id: int, message_id: str, reason: str, now: datetime
) -> ScheduledMessage:
    """Cancel one scheduled message that still waits; a clear refusal for any other."""
    async with db.transaction() as tx:
        found = await scheduled_store.get_scheduled(tx, server_id, message_id)
        if found is None:
            raise NotFound(f"No scheduled message with ID {message_id!r} on this server.")
        if await scheduled_store.cancel(tx, server_id, [found.id], reason, now):
            cancelled = await scheduled_store.get_scheduled(tx, server_id, found.id)
            assert cancelled is not None
            return cancelled
    raise InvalidRequest(_not_cancellable(found))


def _not_cancellable(found: ScheduledMessage) -> str:
    when = found.updated_at.isoformat()
    if found.status is ScheduledStatus.SENT:
        return (
            f"The scheduled message {found.id} was already sent ({when}); it cannot be cancelled."
        )
    if found.status is ScheduledStatus.CANCELLED:
        return f"The scheduled message {found.id} was already cancelled ({when})."
    if found.status is ScheduledStatus.FAILED:
        return (
            f"The scheduled message {found.id} already failed when it was due "
            f"({found.error}); there is nothing left to cancel."
        )
    return f"The scheduled message {found.id} is being sent right now; it cannot be cancelled."


class _Raced(MisivaError):
    """Two requests with one Idempotency-Key raced; the loser's transaction is rolled back."""

    def __init__(self) -> None:
        super().__init__(
            "Another request with the same Idempotency-Key is being processed; retry it."
        )


def _check_later(
    item: SendFields, request: SendRequest, at: datetime, now: datetime, templates: set[str]
) -> None:
    if at - now > MAX_DELAY:
        raise InvalidRequest(
            f"SendAt {at.isoformat()} is more than {MAX_DELAY.days} days ahead; "
            "a message can be scheduled at most that far."
        )
    if item.uses_template and _template_ref(item) not in templates:
        field = "TemplateId" if item.template_id is not None else "TemplateAlias"
        raise NotFound(
            f"The '{field}' associated with this request is not valid or was not found.",
            ErrorCode.TEMPLATE_NOT_FOUND,
        )
    if not request.recipients:
        raise InvalidRequest("Zero recipients specified")


def _row(
    server_id: int, item: SendFields, request: SendRequest, at: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "message_id": new_message_id(),
        "server_id": server_id,
        # The contact it waits for (what a cancelling event and the email filter look up).
        "email": request.recipients[0],
        "stream": request.stream,
        "send_at": at,
        "fields": fields_to_json(item),
    }


def _template_ref(item: SendFields) -> str:
    return str(item.template_id) if item.template_id is not None else str(item.template_alias)


def _scheduled_key(key: str) -> str:
    # Its own key beside the request's (which accept keeps for the part sent now), hashed
    # so that it fits the column however long the caller's key is.
    return "scheduled:" + hashlib.sha256(key.encode()).hexdigest()


async def _remember(
    tx: Tx, server_id: int, key: str, results: dict[int, SendResult], now: datetime
) -> bool:
    places = sorted(results)
    answer = {"places": places, "results": results_to_json([results[p] for p in places])}
    return await idempotency_store.save_response(
        tx, server_id, key, 200, answer, now, expired_before=now - IDEMPOTENCY_WINDOW
    )


def _from_json(stored: dict[str, Any]) -> dict[int, SendResult]:
    return dict(zip(stored["places"], results_from_json(stored["results"]), strict=True))
