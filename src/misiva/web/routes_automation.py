"""Automation in the UI, the rules: the server's triggers with their counts, and the editor
(event, condition, template, stream, delay, window, cap, dedupe, cancel-on) whose every save
is a new version, with pause, resume and delete, and a tester that runs the rule as typed
over the stored events of the last day or week. Marketers own them: no developer needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts.audit import record
from misiva.automation.dry_run import MAX_EVENTS, DryRun, dry_run
from misiva.automation.stats import DEFAULT_PERIOD, TriggerStats, trigger_stats
from misiva.automation.triggers import Changed, ScheduledPolicy, Triggers
from misiva.domain.automation import Trigger, TriggerVersion
from misiva.domain.enums import StreamType
from misiva.domain.errors import MisivaError, NotFound
from misiva.domain.records import Stream
from misiva.domain.templates import Template, TemplateType
from misiva.domain.users import Capability
from misiva.ingest.templated import contact_namespace
from misiva.storage import streams as stream_store
from misiva.storage import templates as template_store
from misiva.web import automation_view as view
from misiva.web.access import Visit, forbidden, not_found, posted, visit
from misiva.web.automation_form import (
    TEST_PERIODS,
    UNITS,
    RuleForm,
    definition,
    delay_parts,
    policy,
    posted_form,
    stored_form,
)
from misiva.web.deps import web_deps
from misiva.web.forms import Form
from misiva.web.i18n import N_, gettext_for
from misiva.web.ops_pages import after_change, notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
SECTION = "automation"
BASE = "/ui/servers/{server_id}/automation"
RULES = BASE + "/rules"
RULE = RULES + "/{key}"
# A server has tens of templates; a select of more than this would be unusable anyway.
_MAX_TEMPLATES = 500

_NOTICES = {
    "created": N_("The rule was created: events fire it from now on."),
    "saved": N_("The rule was saved as a new version."),
    "paused": N_("The rule is paused: events no longer fire it."),
    "resumed": N_("The rule was resumed: events fire it again."),
    "deleted": N_("The rule was deleted."),
}
CANCELLED = N_("Messages already scheduled by the rule that were cancelled: %(n)s.")


def _service(request: Request) -> Triggers:
    deps = web_deps(request)
    return Triggers(deps.db, clock=deps.clock)


def _rules_url(server_id: int) -> str:
    return RULES.format(server_id=server_id)


def _rule_url(server_id: int, key: str | None) -> str:
    return f"{_rules_url(server_id)}/{key or 'new'}"


def _notice(request: Request, got: Visit) -> str | None:
    """The redirect's notice, and how many waiting messages the change cancelled."""
    lang = got.user.locale
    said = notice(request, _NOTICES, lang)
    cancelled = request.query_params.get("cancelled", "")
    if said and cancelled.isascii() and cancelled.isdigit() and int(cancelled) > 0:
        said += " " + gettext_for(lang).gettext(CANCELLED) % {"n": int(cancelled)}
    return said


@router.get(BASE)
async def rules(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    found = await _service(request).all(server_id)
    counts: dict[str, TriggerStats] = {}
    if got.user.can(Capability.SEE_STATS):
        deps = web_deps(request)
        until = deps.clock()
        for trigger in found:
            try:
                counts[trigger.key] = await trigger_stats(
                    deps.db, server_id, trigger.key, until - DEFAULT_PERIOD, until
                )
            except NotFound:
                continue  # deleted since the list was read
    return page(
        "automation/rules.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        **_words(),
        rules=found,
        counts=counts,
        see_stats=got.user.can(Capability.SEE_STATS),
        base_url=BASE.format(server_id=server_id),
        rules_url=_rules_url(server_id),
        may_edit=got.user.can(Capability.EDIT_CONTENT),
        notice=_notice(request, got),
        error=None,
    )


@router.get(RULES + "/new")
async def new(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(got, Response):
        return got
    return await _editor(request, got, RuleForm(), None)


@router.post(RULES + "/new")
async def create(request: Request, server_id: int) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    return await _act(request, got, form, None)


@router.get(RULE)
async def edit(request: Request, server_id: int, key: str) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    trigger = await _found(request, got, key)
    if isinstance(trigger, Response):
        return trigger
    editing = stored_form(trigger.key, trigger.definition)
    return await _editor(request, got, editing, trigger, done=_notice(request, got))


@router.post(RULE)
async def act(request: Request, server_id: int, key: str) -> Response:
    """The editor's one form: test the rule as typed (anyone who may read), or save it."""
    sent = await posted(request, server_id, Capability.READ)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    trigger = await _found(request, got, key)
    if isinstance(trigger, Response):
        return trigger
    return await _act(request, got, form, trigger)


async def _found(request: Request, got: Visit, key: str) -> Trigger | Response:
    """The server's rule `key`, or the not-found page (another server's rule is not found)."""
    try:
        return await _service(request).get(got.server.id, key)
    except NotFound:
        return not_found(got.session)


async def _act(request: Request, got: Visit, form: Form, trigger: Trigger | None) -> Response:
    editing = posted_form(form, trigger.key if trigger else None)
    if form.get("action") == "test":
        return await _editor(
            request, got, editing, trigger, tested=await _test(request, got, editing)
        )
    if not got.user.can(Capability.EDIT_CONTENT):
        return forbidden(got.session)
    service, author = _service(request), got.user.email
    try:
        made = definition(editing)
        if trigger is None:
            changed = Changed(await service.create(got.server.id, editing.key, made, author=author))
        else:
            changed = await service.update(
                got.server.id, trigger.key, made, scheduled=policy(form), author=author
            )
    except NotFound:
        return not_found(got.session)
    except MisivaError as error:
        return await _editor(request, got, editing, trigger, error=error.message, status=422)
    saved = changed.trigger
    assert saved is not None
    await _audit(
        request, got, "trigger.create" if trigger is None else "trigger.update", saved, changed
    )
    done = "created" if trigger is None else "saved"
    return _after(got.server.id, saved.key, done, changed)


def _after(server_id: int, key: str | None, done: str, changed: Changed) -> Response:
    """Post/redirect/get: to the rule (or the rules), saying what was done and cancelled."""
    section = f"automation/rules/{key}" if key else "automation"
    return after_change(server_id, section, done, cancelled=str(changed.cancelled))


@router.post(RULE + "/pause")
async def pause(request: Request, server_id: int, key: str) -> Response:
    return await _change(request, server_id, key, "pause")


@router.post(RULE + "/resume")
async def resume(request: Request, server_id: int, key: str) -> Response:
    return await _change(request, server_id, key, "resume")


@router.post(RULE + "/delete")
async def delete(request: Request, server_id: int, key: str) -> Response:
    return await _change(request, server_id, key, "delete")


async def _change(request: Request, server_id: int, key: str, change: str) -> Response:
    """Pause, resume or delete; what the rule already scheduled stays unless cancel is chosen."""
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    service = _service(request)
    scheduled = policy(form)
    try:
        trigger = await service.get(server_id, key)
        if change == "pause":
            changed = await service.pause(server_id, key, scheduled=scheduled)
        elif change == "resume":
            changed = await service.resume(server_id, key)
        elif form.get("confirm") != "yes":
            # The checkbox is required in the form; without it nothing is deleted.
            return RedirectResponse(_rule_url(server_id, key), status_code=303)
        else:
            changed = await service.delete(server_id, key, scheduled=scheduled)
    except NotFound:
        return not_found(got.session)
    await _audit(request, got, f"trigger.{change}", trigger, changed)
    done = {"pause": "paused", "resume": "resumed", "delete": "deleted"}[change]
    return _after(server_id, None if change == "delete" else key, done, changed)


async def _audit(
    request: Request, got: Visit, action: str, trigger: Trigger, changed: Changed
) -> None:
    d = trigger.definition
    count, unit = delay_parts(d.delay)
    await record(
        web_deps(request).db,
        got.user,
        action,
        trigger.key,
        server_id=got.server.id,
        details={
            "version": str(trigger.version),
            "event": d.event_name,
            "template": d.template,
            "delay": f"{count} {unit}",
            "cancelled_scheduled": str(changed.cancelled),
        },
    )


@dataclass(frozen=True, slots=True)
class _Tested:
    """The tester's answer: the rule's dry run over the period, or what keeps it from running."""

    run: DryRun | None = None
    problem: str | None = None


async def _test(request: Request, got: Visit, editing: RuleForm) -> _Tested:
    """The rule as typed over the stored events of the last day or week; nothing is stored,
    scheduled or sent."""
    deps = web_deps(request)
    until = deps.clock()
    try:
        run = await dry_run(
            deps.db,
            got.server,
            definition(editing),
            contact_namespace,
            since=until - timedelta(days=editing.days),
            until=until,
        )
    except MisivaError as error:
        return _Tested(problem=error.message)
    return _Tested(run)


async def _options(request: Request, server_id: int) -> tuple[list[Template], list[Stream]]:
    """The templates a rule may send (standard ones) and the streams that can send."""
    async with web_deps(request).db.reading() as tx:
        _, templates = await template_store.list_templates(
            tx, server_id, template_type=TemplateType.STANDARD, limit=_MAX_TEMPLATES
        )
        streams = await stream_store.list_streams(tx, server_id, archived=False)
    return templates, [s for s in streams if s.stream_type is not StreamType.INBOUND]


def _words() -> dict[str, object]:
    """What the automation templates read to say a rule in words."""
    return {
        "outcomes": view.OUTCOMES,
        "unit_names": view.UNIT_NAMES,
        "unit_words": view.UNIT_WORDS,
        "delay_parts": delay_parts,
    }


async def _editor(
    request: Request,
    got: Visit,
    editing: RuleForm,
    trigger: Trigger | None,
    *,
    tested: _Tested | None = None,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    templates, streams = await _options(request, got.server.id)
    versions: list[TriggerVersion] = []
    if trigger is not None:
        try:
            versions = await _service(request).versions(got.server.id, trigger.key)
        except NotFound:
            versions = []
    return page(
        "automation/rule.html",
        got.user.locale,
        status,
        **got.context(SECTION),
        **_words(),
        form=editing,
        trigger=trigger,
        versions=versions,
        templates=templates,
        streams=streams,
        units=list(UNITS),
        test_periods=TEST_PERIODS,
        max_tested=MAX_EVENTS,
        tested=tested,
        policies=[p.value for p in ScheduledPolicy],
        action_url=_rule_url(got.server.id, trigger.key if trigger else None),
        base_url=BASE.format(server_id=got.server.id),
        may_edit=got.user.can(Capability.EDIT_CONTENT),
        notice=done,
        error=error,
    )
