"""Operations pages of the plumbing, for developers and owners: sending domains (the DNS
records to publish, and their check) and webhooks (their delivery log, and replay)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.accounts import audit
from misiva.accounts.domains import add_domain, find_sending_domain, rotate_dkim
from misiva.domain.dkim_keys import KeyAlgorithm, KeyState
from misiva.domain.dns_checks import RecordKind, RecordStatus
from misiva.domain.errors import InvalidRequest, MisivaError
from misiva.domain.users import Capability
from misiva.mail.published import records_to_publish
from misiva.storage import dkim_keys as key_store
from misiva.storage import domains as domain_store
from misiva.storage import webhooks as webhook_store
from misiva.web.access import Visit, posted, visit
from misiva.web.deps import web_deps
from misiva.web.forms import checked_form, expired_form
from misiva.web.i18n import N_
from misiva.web.ops_pages import after_change, notice, refresh_server
from misiva.web.render import page
from misiva.webhooks.admin import replay_delivery

router = APIRouter(include_in_schema=False)
DELIVERIES_SHOWN = 50

_DOMAIN_NOTICES = {
    "added": N_("The domain was added: publish its records, then check them."),
    "checked": N_("The DNS check has run."),
    "rotated": N_("A new DKIM key was made: publish its record; it signs once it is found."),
}
_WEBHOOK_NOTICES = {"replayed": N_("The delivery was queued again: the dispatcher sends it now.")}
RECORD_KINDS = {
    RecordKind.DKIM.value: N_("DKIM"),
    RecordKind.SPF.value: N_("SPF"),
    RecordKind.DMARC.value: N_("DMARC"),
    RecordKind.RETURN_PATH.value: N_("Return-Path"),
}
RECORD_STATUS = {
    RecordStatus.PASS.value: N_("Published"),
    RecordStatus.WARN.value: N_("Works, with a warning"),
    RecordStatus.FAIL.value: N_("Missing or wrong"),
    RecordStatus.ERROR.value: N_("The DNS did not answer"),
}
KEY_STATE = {
    KeyState.PENDING.value: N_("new, waiting to be published"),
    KeyState.ACTIVE.value: N_("signing"),
    KeyState.RETIRING.value: N_("retiring, keep published"),
    KeyState.RETIRED.value: N_("retired"),
}
DELIVERY_STATUS = {
    webhook_store.PENDING: N_("pending"),
    webhook_store.DELIVERED: N_("delivered"),
    webhook_store.FAILED: N_("failed"),
}


# --- Sending domains --------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/domains")
async def domains(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    return await _domains_page(request, got)


@router.post("/ui/servers/{server_id}/domains")
async def create_domain(request: Request, server_id: int) -> Response:
    posted_form = await posted(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(posted_form, Response):
        return posted_form
    got, form = posted_form
    deps = web_deps(request)
    try:
        made = await add_domain(deps.db, form.get("domain"), got.server.name, clock=deps.clock)
    except MisivaError as error:
        return await _domains_page(request, got, error=error.message, status=422)
    # Sends check their From domain against the cached context: let them see this one now.
    await refresh_server(deps, server_id)
    await audit.record(
        deps.db,
        got.user,
        "domain.create",
        made.domain.name,
        server_id=server_id,
        details={"selector": made.domain.dkim_selector},
    )
    return after_change(server_id, "domains", "added")


@router.post("/ui/servers/{server_id}/domains/{name}/rotate")
async def rotate_domain_key(request: Request, server_id: int, name: str) -> Response:
    posted_form = await posted(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(posted_form, Response):
        return posted_form
    got, form = posted_form
    deps = web_deps(request)
    try:
        algorithm = _algorithm(form.get("algorithm"))
        domain = await find_sending_domain(deps.db, name, got.server.name)
        key = await rotate_dkim(deps.db, domain, algorithm, clock=deps.clock)
    except MisivaError as error:
        return await _domains_page(request, got, error=error.message, status=422)
    await audit.record(
        deps.db,
        got.user,
        "domain.rotate_dkim",
        name,
        server_id=server_id,
        details={"selector": key.selector, "algorithm": key.algorithm.value},
    )
    return after_change(server_id, "domains", "rotated")


def _algorithm(value: str) -> KeyAlgorithm:
    try:
        return KeyAlgorithm(value or KeyAlgorithm.RSA.value)
    except ValueError:
        raise InvalidRequest(f"{value!r} is not a DKIM key algorithm (rsa, ed25519).") from None


@router.post("/ui/servers/{server_id}/domains/{name}/check")
async def check_domain(request: Request, server_id: int, name: str) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    if await checked_form(request, got.csrf) is None:
        return expired_form()
    deps = web_deps(request)
    try:
        check = await deps.domain_checker.check(deps.db, server_id, name, clock=deps.clock)
    except MisivaError as error:
        return await _domains_page(request, got, error=error.message, status=404)
    await audit.record(
        deps.db,
        got.user,
        "domain.check",
        name,
        server_id=server_id,
        details={f"{r.kind.value} {r.name}": r.status.value for r in check.records},
    )
    return after_change(server_id, "domains", "checked")


async def _domains_page(
    request: Request, got: Visit, *, error: str | None = None, status: int = 200
) -> Response:
    deps = web_deps(request)
    setup = deps.domain_checker.setup
    async with deps.db.reading() as tx:
        found = await domain_store.list_domains(tx, got.server.id)
        checks = await domain_store.last_checks(tx, got.server.id)
        keys = await key_store.keys_by_domain(tx, [d.id for d in found])
        history = {d.id: await domain_store.status_history(tx, d.id, 10) for d in found}
    rows = [
        {
            "domain": d,
            # DKIM (every key not yet retired), SPF, DMARC, then the Return-Path name.
            "records": records_to_publish(d.name, keys[d.id], setup),
            "check": checks.get(d.id),
            "found": checks[d.id].by_key() if d.id in checks else {},
            "dkim_keys": keys[d.id],
            "history": history[d.id],
        }
        for d in found
    ]
    return page(
        "operations/domains.html",
        got.user.locale,
        status,
        **got.context("domains"),
        rows=rows,
        kind_labels=RECORD_KINDS,
        status_labels=RECORD_STATUS,
        key_states=KEY_STATE,
        bounce_domain=setup.bounce_domain,
        error=error,
        notice=notice(request, _DOMAIN_NOTICES, got.user.locale),
    )


# --- Webhooks ---------------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/webhooks")
async def webhooks(request: Request, server_id: int, webhook: int | None = None) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    return await _webhooks_page(request, got, webhook)


@router.post("/ui/servers/{server_id}/webhooks/deliveries/{delivery_id}/replay")
async def replay(request: Request, server_id: int, delivery_id: int) -> Response:
    posted_form = await posted(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(posted_form, Response):
        return posted_form
    got, form = posted_form
    deps = web_deps(request)
    try:
        await replay_delivery(deps.db, server_id, delivery_id, clock=deps.clock)
    except MisivaError as error:
        return await _webhooks_page(request, got, None, error=error.message, status=404)
    await audit.record(
        deps.db, got.user, "webhook.replay", f"delivery {delivery_id}", server_id=server_id
    )
    shown = form.get("webhook")
    return after_change(
        server_id, "webhooks", "replayed", **({"webhook": shown} if shown.isdigit() else {})
    )


async def _webhooks_page(
    request: Request,
    got: Visit,
    webhook_id: int | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with web_deps(request).db.reading() as tx:
        hooks = await webhook_store.list_webhooks(tx, got.server.id)
        rows = await webhook_store.list_deliveries(
            tx, got.server.id, webhook_id=webhook_id, limit=DELIVERIES_SHOWN
        )
        attempts = await webhook_store.attempts_for(tx, [row["id"] for row in rows])
    deliveries: list[dict[str, Any]] = [{**row, "tries": attempts[row["id"]]} for row in rows]
    return page(
        "operations/webhooks.html",
        got.user.locale,
        status,
        **got.context("webhooks"),
        hooks=hooks,
        urls={h.id: h.url for h in hooks},
        shown=webhook_id,
        deliveries=deliveries,
        delivery_status=DELIVERY_STATUS,
        error=error,
        notice=notice(request, _WEBHOOK_NOTICES, got.user.locale),
    )
