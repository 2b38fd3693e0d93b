"""Offers in the UI, content blocks: the server's blocks by slot in priority order, and the
editor (key, slot, audience rule, priority, schedule, A/B variants and their locales) with a
preview against a chosen contact and a rule tester listing the contacts the rule matches."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts.audit import record
from misiva.authoring.block_tryout import (
    MAX_TESTED,
    BlockPreview,
    Matching,
    matching_contacts,
    preview_block,
)
from misiva.authoring.content_blocks import ContentBlocks, RuleTest
from misiva.authoring.lines import Problem
from misiva.authoring.preview import parse_test_data
from misiva.domain.content_blocks import ContentBlock, NewContentBlock
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.users import Capability
from misiva.feedback.offer_results import BlockResults, block_results
from misiva.ingest.templated import contact_namespace
from misiva.web.access import Visit, forbidden, not_found, posted, visit
from misiva.web.deps import web_deps
from misiva.web.formats import Formats
from misiva.web.forms import Form, checked_form, expired_form
from misiva.web.i18n import N_
from misiva.web.offers_block_form import BlockForm, new_block, new_form, posted_form, stored_form
from misiva.web.ops_pages import after_change, notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
SECTION = "offers"
BLOCKS = "/ui/servers/{server_id}/offers/blocks"
BLOCK = BLOCKS + "/{block_id}"
# Matching contacts the rule tester lists; its counts say how many matched in all.
SHOWN = 100

STATES = {"running": N_("running"), "scheduled": N_("scheduled"), "ended": N_("ended")}
_NOTICES = {
    "created": N_("The block was created."),
    "saved": N_("The block was saved. Sends use it within a few seconds."),
    "deleted": N_("The block was deleted."),
}
NOTHING_TO_PREVIEW = N_("Write a variant's content to preview it.")


def schedule_state(block: ContentBlock, now: datetime) -> str:
    """The schedule in a word: running, scheduled (starts later) or ended."""
    if block.ends_at is not None and now >= block.ends_at:
        return "ended"
    if block.starts_at is not None and now < block.starts_at:
        return "scheduled"
    return "running"


def _service(request: Request) -> ContentBlocks:
    deps = web_deps(request)
    return ContentBlocks(deps.db, clock=deps.clock)


def _blocks_url(server_id: int) -> str:
    return BLOCKS.format(server_id=server_id)


def _block_url(server_id: int, block_id: int | None) -> str:
    tail = "new" if block_id is None else str(block_id)
    return f"{_blocks_url(server_id)}/{tail}"


@router.get(BLOCKS)
async def blocks(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    now = web_deps(request).clock()
    slots: dict[str, list[tuple[ContentBlock, str]]] = {}
    # Listed by slot, then priority (highest first), then age: the order a send tries them.
    for block in await _service(request).list(server_id):
        slots.setdefault(block.slot, []).append((block, schedule_state(block, now)))
    return page(
        "offers/blocks.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        slots=slots,
        states=STATES,
        blocks_url=_blocks_url(server_id),
        may_edit=got.user.can(Capability.EDIT_CONTENT),
        notice=notice(request, _NOTICES, got.user.locale),
        error=None,
    )


@router.get(BLOCKS + "/new")
async def new(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(got, Response):
        return got
    return _editor(got, new_form(), None)


@router.post(BLOCKS + "/new")
async def create(request: Request, server_id: int) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    return await _act(request, got, form, None)


@router.get(BLOCK)
async def edit(request: Request, server_id: int, block_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    try:
        block = await _service(request).get(server_id, block_id)
    except NotFound:
        return not_found(got.session)
    done = notice(request, _NOTICES, got.user.locale)
    deps = web_deps(request)
    found = None
    if got.user.can(Capability.SEE_STATS):
        found = await block_results(deps.db, block)
    return _editor(got, stored_form(block), block, now=deps.clock(), done=done, results=found)


@router.post(BLOCK)
async def act(request: Request, server_id: int, block_id: int) -> Response:
    """The editor's one form: preview or test the rule (anyone who may read), or save."""
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    form = await checked_form(request, got.csrf)
    if form is None:
        return expired_form()
    try:
        block = await _service(request).get(server_id, block_id)
    except NotFound:
        return not_found(got.session)
    return await _act(request, got, form, block)


@router.post(BLOCK + "/delete")
async def delete(request: Request, server_id: int, block_id: int) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    service = _service(request)
    try:
        block = await service.get(server_id, block_id)
    except NotFound:
        return not_found(got.session)
    if form.get("confirm") != "yes":
        # The checkbox is required in the form; without it nothing is deleted.
        return RedirectResponse(_block_url(server_id, block_id), status_code=303)
    try:
        await service.delete(server_id, block_id)
    except NotFound:
        # Deleted by someone else meanwhile.
        return not_found(got.session)
    await _audit(request, got, "block.delete", block)
    return after_change(server_id, "offers/blocks", "deleted")


async def _act(request: Request, got: Visit, form: Form, block: ContentBlock | None) -> Response:
    editing = posted_form(form)
    action = form.get("action", "preview")
    if action == "save":
        if not got.user.can(Capability.EDIT_CONTENT):
            return forbidden(got.session)
        return await _save(request, got, editing, block)
    now = web_deps(request).clock()
    if action == "test_rule":
        tested = await _test_rule(request, got, editing, block)
        return _editor(got, editing, block, now=now, tested=tested)
    shown = await _preview(request, got, editing, block)
    return _editor(got, editing, block, now=now, preview=shown)


async def _save(
    request: Request, got: Visit, editing: BlockForm, block: ContentBlock | None
) -> Response:
    service = _service(request)
    try:
        new = new_block(editing)
        if block is None:
            saved = await service.create(got.server.id, new)
        else:
            saved = await service.update(got.server.id, block.id, new)
    except NotFound:
        return not_found(got.session)
    except MisivaError as error:
        now = web_deps(request).clock()
        return _editor(got, editing, block, now=now, error=error.message, status=422)
    await _audit(request, got, "block.create" if block is None else "block.update", saved)
    done = "created" if block is None else "saved"
    return RedirectResponse(f"{_block_url(got.server.id, saved.id)}?done={done}", status_code=303)


async def _audit(request: Request, got: Visit, action: str, block: ContentBlock) -> None:
    splits = ", ".join(f"{v.name} {v.split}%" for v in block.variants)
    await record(
        web_deps(request).db,
        got.user,
        action,
        block.key,
        server_id=got.server.id,
        details={
            "id": str(block.id),
            "slot": block.slot,
            "priority": str(block.priority),
            "rule": block.rule or "",
            "variants": splits,
        },
    )


def _draft(
    new: NewContentBlock, block: ContentBlock | None, server_id: int, now: datetime
) -> ContentBlock:
    """The block as typed, shaped like a stored one (a new block's id is 0)."""
    typed = {f.name: getattr(new, f.name) for f in fields(new)}
    created = block.created_at if block else now
    return ContentBlock(
        id=block.id if block else 0,
        server_id=server_id,
        created_at=created,
        updated_at=now,
        **typed,
    )


@dataclass(frozen=True, slots=True)
class _Tested:
    """The rule tester's answer: the matching contacts, and for one contact the service's
    test of the saved block (does it fill the slot, or does another block win)."""

    matching: Matching | None = None
    problem: str | None = None
    test: RuleTest | None = None
    winner: ContentBlock | None = None
    # The rule as typed differs from the saved one, which the one-contact test uses.
    rule_changed: bool = False


async def _test_rule(
    request: Request, got: Visit, editing: BlockForm, block: ContentBlock | None
) -> _Tested:
    model = parse_test_data(editing.model)
    if isinstance(model, Problem):
        return _Tested(problem=model.message)
    deps = web_deps(request)
    try:
        draft = _draft(new_block(editing), block, got.server.id, deps.clock())
    except InvalidRequest:
        # The rule can be tested while the rest of the form is still being written.
        draft = None
    try:
        matching = await matching_contacts(
            deps.db, got.server.id, editing.rule or None, model, contact_namespace, block=draft
        )
    except InvalidRequest as error:
        return _Tested(problem=error.message)
    if block is None or not editing.email:
        return _Tested(matching)
    service = _service(request)
    test = await service.test(got.server.id, block.id, editing.email, model, contact_namespace)
    siblings = await service.list(got.server.id, block.slot)
    winner = next((b for b in siblings if b.id == test.chosen_block_id), None)
    return _Tested(matching, None, test, winner, (editing.rule or None) != block.rule)


async def _preview(
    request: Request, got: Visit, editing: BlockForm, block: ContentBlock | None
) -> BlockPreview | str:
    """The variant chosen in the panel, as typed, rendered for the chosen contact; or what
    keeps it from rendering."""
    model = parse_test_data(editing.model)
    if isinstance(model, Problem):
        return model.message
    deps = web_deps(request)
    try:
        new = new_block(editing)
    except InvalidRequest as error:
        return error.message
    if not new.variants:
        return NOTHING_TO_PREVIEW
    return await preview_block(
        deps.db,
        got.server,
        _draft(new, block, got.server.id, deps.clock()),
        variant=editing.variant,
        locale=editing.locale,
        email=editing.email,
        model=model,
        contact_view=contact_namespace,
    )


def _editor(
    got: Visit,
    editing: BlockForm,
    block: ContentBlock | None,
    *,
    now: datetime | None = None,
    preview: BlockPreview | str | None = None,
    tested: _Tested | None = None,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
    results: BlockResults | None = None,
) -> Response:
    return page(
        "offers/block.html",
        got.user.locale,
        status,
        **got.context(SECTION),
        form=editing,
        block=block,
        state=schedule_state(block, now) if block is not None and now is not None else None,
        states=STATES,
        action_url=_block_url(got.server.id, block.id if block else None),
        blocks_url=_blocks_url(got.server.id),
        may_edit=got.user.can(Capability.EDIT_CONTENT),
        preview=preview if isinstance(preview, BlockPreview) else None,
        preview_problem=preview if isinstance(preview, str) else None,
        tested=tested,
        shown=SHOWN,
        max_tested=MAX_TESTED,
        fmt=Formats(got.user.locale),
        # Listing the contacts a rule matches shows their profiles: as the contacts pages do,
        # only to whom looks after the audience; anyone who reads sees the counts.
        may_see_contacts=got.user.can(Capability.MANAGE_CONTACTS),
        notice=done,
        error=error,
        # Each variant's sends, opens, clicks, conversions and revenue, and the A/B verdict:
        # on the block's own page, for whom may see statistics.
        results=results,
    )
