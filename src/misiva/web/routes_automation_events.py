"""Automation in the UI, what happened: the events applications reported (filtered by name
and contact), one event with its data, what each rule did with it and why, and the messages
it produced; and the scheduled messages, soonest first, each cancellable while it waits."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.accounts.audit import record
from misiva.automation.events import Events
from misiva.domain.automation import ScheduledStatus
from misiva.domain.errors import MisivaError, NotFound
from misiva.domain.users import Capability
from misiva.ingest.schedule import cancel_scheduled
from misiva.ingest.templated import contact_namespace
from misiva.storage import scheduled as scheduled_store
from misiva.web import automation_view as view
from misiva.web.access import Visit, not_found, posted, visit
from misiva.web.deps import web_deps
from misiva.web.i18n import N_
from misiva.web.ops_pages import after_change, notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
SECTION = "automation"
BASE = "/ui/servers/{server_id}/automation"
# The longest name and address a filter reads: an event name is 100, an address 320.
_MAX_FILTER = 320

_NOTICES = {"cancelled": N_("The scheduled message was cancelled: it will not be sent.")}
BAD_STATUS = N_("That status does not exist.")


def _events(request: Request) -> Events:
    deps = web_deps(request)
    return Events(deps.db, contact_namespace, clock=deps.clock)


def _links(server_id: int) -> dict[str, str]:
    base = BASE.format(server_id=server_id)
    return {"base_url": base, "rules_url": base + "/rules", "events_url": base + "/events"}


@router.get(BASE + "/events")
async def events(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:_MAX_FILTER] for k in ("name", "email")}
    number = view.page_asked(q.get("page"))
    total, found = await _events(request).search(
        server_id,
        name=filters["name"] or None,
        email=filters["email"] or None,
        limit=view.PAGE_SIZE,
        offset=(number - 1) * view.PAGE_SIZE,
    )
    links = _links(server_id)
    return page(
        "automation/events.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        **links,
        **view.paging(links["events_url"], filters, number, total),
        filters=filters,
        total=total,
        events=[(e, view.summary(e.outcomes)) for e in found],
        outcome_counts=view.OUTCOME_COUNTS,
    )


@router.get(BASE + "/events/{event_id:path}")
async def event(request: Request, server_id: int, event_id: str) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    try:
        found = await _events(request).get(server_id, event_id)
    except NotFound:
        return not_found(got.session)
    keys = {o.scheduled_id: o.trigger_key for o in found.event.outcomes if o.scheduled_id}
    return page(
        "automation/event.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        **_links(server_id),
        event=found.event,
        data=json.dumps(found.event.data, indent=2, ensure_ascii=False, sort_keys=True),
        messages=[(m, keys.get(m.id)) for m in found.messages],
        outcomes=view.OUTCOMES,
        statuses=view.STATUSES,
    )


@router.get(BASE + "/scheduled")
async def scheduled(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    return await _scheduled_page(request, got)


@router.post(BASE + "/scheduled/{message_id}/cancel")
async def cancel(request: Request, server_id: int, message_id: str) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    deps = web_deps(request)
    reason = f"Cancelled in the UI by {got.user.email}."
    try:
        cancelled = await cancel_scheduled(deps.db, server_id, message_id, reason, deps.clock())
    except NotFound:
        return not_found(got.session)
    except MisivaError as error:
        return await _scheduled_page(request, got, error=error.message, status=422)
    await record(
        deps.db,
        got.user,
        "scheduled.cancel",
        cancelled.id,
        server_id=server_id,
        details={"to": cancelled.email, "send_at": cancelled.send_at.isoformat()},
    )
    status = form.get("status")
    return after_change(server_id, "automation/scheduled", "cancelled", status=status)


async def _scheduled_page(
    request: Request, got: Visit, *, error: str | None = None, status: int = 200
) -> Response:
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:_MAX_FILTER] for k in ("status", "rule")}
    wanted = None
    if filters["status"] in view.STATUSES:
        wanted = ScheduledStatus(filters["status"])
    elif filters["status"]:
        error = error or BAD_STATUS
    number = view.page_asked(q.get("page"))
    server_id = got.server.id
    rule = filters["rule"] or None
    async with web_deps(request).db.reading() as tx:
        total = await scheduled_store.count_scheduled(tx, server_id, status=wanted, trigger=rule)
        found = await scheduled_store.list_scheduled(
            tx,
            server_id,
            status=wanted,
            trigger=rule,
            limit=view.PAGE_SIZE,
            offset=(number - 1) * view.PAGE_SIZE,
        )
    links = _links(server_id)
    path = links["base_url"] + "/scheduled"
    return page(
        "automation/scheduled.html",
        got.user.locale,
        status,
        **got.context(SECTION),
        **links,
        **view.paging(path, filters, number, total),
        filters=filters,
        total=total,
        rows=[(m, view.origin(m), view.template_of(m)) for m in found],
        statuses=view.STATUSES,
        scheduled_path=path,
        may_cancel=got.user.can(Capability.EDIT_CONTENT),
        notice=notice(request, _NOTICES, got.user.locale),
        error=error,
    )
