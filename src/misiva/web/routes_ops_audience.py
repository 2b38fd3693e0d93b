"""Operations pages of the audience: suppressions (search, add and remove with a reason) and
contacts (search, a profile with its subscriptions and consent history, erasure)."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts import audit
from misiva.accounts.contacts import erase_contact
from misiva.accounts.suppressions import add_suppressions, delete_suppressions
from misiva.domain.errors import MisivaError
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.subscriptions import ConsentAction, SubscriptionStatus
from misiva.domain.users import Capability, User
from misiva.storage import contacts as contact_store
from misiva.storage import streams as stream_store
from misiva.storage import suppressions as suppression_store
from misiva.subscriptions.profile import address_profile
from misiva.web.access import Visit, forbidden, posted, visit
from misiva.web.deps import web_deps
from misiva.web.forms import checked_form, expired_form
from misiva.web.i18n import N_
from misiva.web.ops_pages import after_change, notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
MAX_REASON = 500

_SUPPRESSION_NOTICES = {
    "added": N_("The address is suppressed on this stream."),
    "removed": N_("The address was removed from the suppression list."),
}
_CONTACT_NOTICES = {"erased": N_("The contact was erased.")}
SUPPRESSION_REASONS = {
    "HardBounce": N_("Hard bounce"),
    "SpamComplaint": N_("Spam complaint"),
    "ManualSuppression": N_("Added by hand"),
}
ORIGINS = {"Recipient": N_("the recipient"), "Customer": N_("a user"), "Admin": N_("an admin")}
SUBSCRIPTION_STATUS = {
    SubscriptionStatus.PENDING.value: N_("waiting for confirmation"),
    SubscriptionStatus.CONFIRMED.value: N_("subscribed"),
    SubscriptionStatus.UNSUBSCRIBED.value: N_("unsubscribed"),
}
CONSENT_ACTIONS = {
    ConsentAction.REQUESTED.value: N_("asked to subscribe"),
    ConsentAction.CONFIRMATION_SENT.value: N_("confirmation email sent"),
    ConsentAction.CONFIRMED.value: N_("confirmed"),
    ConsentAction.UNSUBSCRIBED.value: N_("unsubscribed"),
    ConsentAction.RESUBSCRIBED.value: N_("subscribed again"),
}


# --- Suppressions -----------------------------------------------------------------------


def _may_change_suppressions(user: User) -> bool:
    """Marketers look after their audience, developers after the plumbing: both may."""
    return user.can(Capability.MANAGE_CONTACTS) or user.can(Capability.MANAGE_INTEGRATION)


@router.get("/ui/servers/{server_id}/suppressions")
async def suppressions(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    return await _suppressions_page(request, got, request.query_params.get("stream", ""))


@router.post("/ui/servers/{server_id}/suppressions")
async def change_suppression(request: Request, server_id: int) -> Response:
    """Add (`action=add`) or remove (`action=remove`) one address, always with a reason."""
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    if not _may_change_suppressions(got.user):
        return forbidden(got.session)
    form = await checked_form(request, got.csrf)
    if form is None:
        return expired_form()
    stream, email = form.get("stream"), form.get("email").strip()
    reason = form.get("reason").strip()[:MAX_REASON]
    adding = form.get("action") == "add"
    if not reason:
        error = N_("Say why: the reason is kept in the audit log.")
        return await _suppressions_page(request, got, stream, error=error, status=422)
    deps = web_deps(request)
    async with deps.db.reading() as tx:
        if await stream_store.get_stream(tx, server_id, stream) is None:
            return await _suppressions_page(request, got, "", status=404)
    change = add_suppressions if adding else delete_suppressions
    [result] = await change(deps.db, server_id, stream, [email], clock=deps.clock)
    if result.status == "Failed":
        return await _suppressions_page(
            request, got, stream, error=result.message or "", status=422
        )
    await audit.record(
        deps.db,
        got.user,
        "suppression.add" if adding else "suppression.remove",
        result.email,
        server_id=server_id,
        details={"stream": stream, "reason": reason},
    )
    return after_change(server_id, "suppressions", "added" if adding else "removed", stream=stream)


async def _suppressions_page(
    request: Request, got: Visit, stream: str, *, error: str | None = None, status: int = 200
) -> Response:
    query = request.query_params.get("q", "").strip()
    async with web_deps(request).db.reading() as tx:
        streams = await stream_store.list_streams(tx, got.server.id, archived=True)
        ids = [s.stream_id for s in streams]
        stream = stream if stream in ids else DEFAULT_STREAM
        total, found = await suppression_store.search(
            tx, got.server.id, stream, query or None, limit=PAGE_SIZE
        )
    return page(
        "operations/suppressions.html",
        got.user.locale,
        status,
        **got.context("suppressions"),
        streams=streams,
        stream=stream,
        query=query,
        total=total,
        suppressions=found,
        reasons=SUPPRESSION_REASONS,
        origins=ORIGINS,
        may_change=_may_change_suppressions(got.user),
        error=error,
        notice=notice(request, _SUPPRESSION_NOTICES, got.user.locale),
    )


# --- Contacts ---------------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/contacts")
async def contacts(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_CONTACTS)
    if isinstance(got, Response):
        return got
    query = request.query_params.get("q", "").strip()
    async with web_deps(request).db.reading() as tx:
        total, found = await contact_store.search_contacts(
            tx, server_id, query=query or None, limit=PAGE_SIZE
        )
    return page(
        "operations/contacts.html",
        got.user.locale,
        200,
        **got.context("contacts"),
        query=query,
        total=total,
        contacts=found,
        error=None,
        notice=notice(request, _CONTACT_NOTICES, got.user.locale),
    )


@router.get("/ui/servers/{server_id}/contacts/{email}")
async def contact(request: Request, server_id: int, email: str) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_CONTACTS)
    if isinstance(got, Response):
        return got
    deps = web_deps(request)
    async with deps.db.reading() as tx:
        found = await contact_store.get_contact(tx, server_id, email)
    profile = await address_profile(deps.db, server_id, email)
    if found is None and not (profile.subscriptions or profile.consent or profile.suppressed):
        return page("not-found.html", got.user.locale, 404, user=got.user, csrf=got.csrf)
    return page(
        "operations/contact.html",
        got.user.locale,
        200,
        **got.context("contacts"),
        email=profile.email,
        contact=found,
        profile=profile,
        quoted=quote(profile.email, safe="@"),
        subscription_status=SUBSCRIPTION_STATUS,
        consent_actions=CONSENT_ACTIONS,
        reasons=SUPPRESSION_REASONS,
        error=None,
        notice=None,
    )


@router.post("/ui/servers/{server_id}/contacts/{email}/erase")
async def erase(request: Request, server_id: int, email: str) -> Response:
    posted_form = await posted(request, server_id, Capability.MANAGE_CONTACTS)
    if isinstance(posted_form, Response):
        return posted_form
    got, form = posted_form
    if form.get("confirm") != "yes":
        # The checkbox is required in the form; without it nothing is erased.
        return RedirectResponse(
            f"/ui/servers/{server_id}/contacts/{quote(email, safe='@')}", status_code=303
        )
    deps = web_deps(request)
    try:
        messages = await erase_contact(deps.db, server_id, email)
    except MisivaError:
        return page("not-found.html", got.user.locale, 404, user=got.user, csrf=got.csrf)
    # The audit log must not keep what was erased: it names the address by its SHA-256, which
    # still answers "was this person erased?" for whoever knows the address.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    await audit.record(
        deps.db,
        got.user,
        "contact.erase",
        f"sha256:{digest}",
        server_id=server_id,
        details={"messages_anonymised": str(messages)},
    )
    return after_change(server_id, "contacts", "erased")
