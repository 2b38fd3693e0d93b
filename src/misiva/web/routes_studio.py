"""The template studio: find templates and layouts, edit a locale variant beside its live
preview, save drafts, publish and roll back, compare versions, send a test."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.accounts.audit import record
from misiva.authoring import templates as authoring
from misiva.authoring.lines import Problem, problems_of
from misiva.authoring.preview import Preview, parse_test_data, preview_draft
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError, NotFound
from misiva.domain.message import DEFAULT_STREAM, SendFields
from misiva.domain.templates import MAX_TEMPLATES, TemplateType
from misiva.domain.users import Capability
from misiva.render.errors import TemplateError
from misiva.storage import templates as template_store
from misiva.web import studio_checks as checks
from misiva.web import studio_editor as editor
from misiva.web.access import Visit, forbidden, not_found, visit
from misiva.web.deps import web_deps
from misiva.web.forms import Form, checked_form
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
SECTION = "templates"
# A test is marked as one in the inbox it lands in (Postmark's studio does the same).
TEST_PREFIX = "[Test] "
_KINDS = {"standard": TemplateType.STANDARD, "layout": TemplateType.LAYOUT}


def _url(server_id: int, template_id: int | None = None, tail: str = "") -> str:
    base = f"/ui/servers/{server_id}/templates"
    return base if template_id is None else f"{base}/{template_id}{tail}"


@router.get("/ui/servers/{server_id}/templates")
async def templates(request: Request, server_id: int, q: str = "", kind: str = "") -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    async with web_deps(request).db.reading() as tx:
        total, found = await template_store.list_templates(
            tx,
            server_id,
            template_type=_KINDS.get(kind),
            text=q.strip() or None,
            limit=MAX_TEMPLATES,
        )
    return page(
        "studio/templates.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        templates=found,
        total=total,
        q=q,
        kind=kind if kind in _KINDS else "",
    )


@router.get("/ui/servers/{server_id}/templates/{template_id}")
async def edit(request: Request, server_id: int, template_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    params = request.query_params
    editing = await editor.load(web_deps(request).db, got.server, template_id, params.get("locale"))
    if editing is None:
        return not_found(got.session)
    notice = _Notice(params.get("saved"), params.get("published"), params.get("data"))
    return await _editor(request, got, editing, notice=notice)


@router.post("/ui/servers/{server_id}/templates/{template_id}")
async def act(request: Request, server_id: int, template_id: int) -> Response:
    """The editor's one form: preview (without JavaScript), save, or send a test."""
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    form = await checked_form(request, got.csrf)
    if form is None:
        return Response("Bad CSRF token", status_code=400)
    editing = await _posted(request, got, template_id, form)
    if editing is None:
        return not_found(got.session)
    action = form.get("action", "preview")
    if action != "preview" and not got.user.can(Capability.EDIT_CONTENT):
        return forbidden(got.session)
    if action == "save":
        return await _save(request, got, editing, form.get("note").strip())
    if action == "send_test":
        return await _send_test(request, got, editing, form)
    if action == "spamcheck":
        return await _spamcheck(request, got, editing)
    return await _editor(request, got, editing)


@router.post("/ui/servers/{server_id}/templates/{template_id}/preview")
async def preview(request: Request, server_id: int, template_id: int) -> Response:
    """The live preview's fragment, for studio.js to put beside the editor as one types."""
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    form = await checked_form(request, got.csrf)
    if form is None:
        return Response("Bad CSRF token", status_code=400)
    editing = await _posted(request, got, template_id, form)
    if editing is None:
        return not_found(got.session)
    result = await _preview(request, got, editing)
    checker = web_deps(request).content_checks
    return page(
        "studio/result.html",
        got.user.locale,
        preview=result,
        editing=editing,
        parts=editor.PARTS,
        lint=await checks.lint_preview(checker, result, editor.draft(editing)),
        lint_titles=checks.LINT_TITLES,
        severities=checks.SEVERITIES,
    )


@router.post("/ui/servers/{server_id}/templates/{template_id}/publish")
async def publish(request: Request, server_id: int, template_id: int) -> Response:
    """Make a version the one sends use: publish a draft, or roll back to an older one."""
    got = await visit(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(got, Response):
        return got
    form = await checked_form(request, got.csrf)
    if form is None:
        return Response("Bad CSRF token", status_code=400)
    deps = web_deps(request)
    db = deps.db
    number = int(form.get("version")) if form.get("version").isdigit() else 0
    locale = form.get("locale")
    sender = await _sender_domain(request, got)
    try:
        report = await checks.publish_report(
            deps.content_checks, db, got.server, template_id, number, sender
        )
    except NotFound:
        return not_found(got.session)
    blockers = tuple(report.blockers())
    scored = {"score": f"{report.score:.1f}"} if report.score is not None else {}
    if blockers and not got.user.can(Capability.PUBLISH_OVER_CHECKS):
        return await _refuse_publish(request, got, template_id, number, locale, blockers, scored)
    try:
        before = (await authoring.get_template(db, server_id, template_id)).template
        after = await authoring.publish_version(db, server_id, template_id, number)
    except NotFound:
        return not_found(got.session)
    previous = before.published_version
    rollback = previous is not None and number < previous
    await record(
        db,
        got.user,
        "template.rollback" if rollback else "template.publish",
        after.alias or str(after.id),
        server_id=server_id,
        details={
            "version": str(number),
            "previous": str(previous or ""),
            **scored,
            **({"warnings": str(len(blockers))} if blockers else {}),
        },
    )
    if blockers:
        # Published over the checks (a developer or an owner): say so on the page itself.
        editing = await editor.load(db, got.server, template_id, locale or None)
        if editing is None:
            return not_found(got.session)
        notice = _Notice(published=str(number), warnings=blockers)
        return await _editor(request, got, editing, notice=notice)
    query = f"?published={number}" + (f"&locale={locale}" if editor.valid_variant(locale) else "")
    return RedirectResponse(_url(server_id, template_id, query), status_code=303)


async def _refuse_publish(
    request: Request,
    got: Visit,
    template_id: int,
    number: int,
    locale: str,
    blockers: tuple[str, ...],
    scored: dict[str, str],
) -> Response:
    """A marketer's publish of content that fails the checks: refused, said why, audited."""
    db = web_deps(request).db
    editing = await editor.load(db, got.server, template_id, locale or None)
    if editing is None:
        return not_found(got.session)
    template = editing.template
    await record(
        db,
        got.user,
        "template.publish_refused",
        template.alias or str(template.id),
        server_id=got.server.id,
        details={"version": str(number), "reasons": str(len(blockers)), **scored},
    )
    problems = tuple(Problem(reason) for reason in blockers)
    return await _editor(request, got, editing, problems=problems, refused=number, status=422)


@router.get("/ui/servers/{server_id}/templates/{template_id}/diff")
async def diff(request: Request, server_id: int, template_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    params = request.query_params
    old, new = params.get("from", ""), params.get("to", "")
    if not (old.isdigit() and new.isdigit()):
        return RedirectResponse(_url(server_id, template_id), status_code=303)
    db = web_deps(request).db
    try:
        template = (await authoring.get_template(db, server_id, template_id)).template
        text = await authoring.diff_versions(db, server_id, template_id, int(old), int(new))
    except NotFound:
        return not_found(got.session)
    return page(
        "studio/diff.html",
        got.user.locale,
        200,
        **got.context(SECTION),
        template=template,
        old=int(old),
        new=int(new),
        lines=[_DiffLine.of(line) for line in text.splitlines()],
    )


@dataclass(frozen=True, slots=True)
class _DiffLine:
    kind: str  # file | hunk | add | del | same
    text: str

    @classmethod
    def of(cls, line: str) -> _DiffLine:
        if line.startswith(("---", "+++")):
            return cls("file", line)
        kinds = {"@": "hunk", "+": "add", "-": "del"}
        return cls(kinds.get(line[:1], "same"), line)


@dataclass(frozen=True, slots=True)
class _Notice:
    """What the page says happened (after a redirect): saved version, published, test sent."""

    saved: str | None = None
    published: str | None = None
    data: str | None = None
    sent: str | None = None
    sent_to: str = ""
    # What the content checks found in a version published over them.
    warnings: tuple[str, ...] = ()


async def _posted(
    request: Request, got: Visit, template_id: int, form: Form
) -> editor.Editing | None:
    found = await editor.load(web_deps(request).db, got.server, template_id, form.get("variant"))
    return None if found is None else editor.posted(found, form)


async def _preview(request: Request, got: Visit, editing: editor.Editing) -> Preview:
    db = web_deps(request).db
    data = await editor.preview_data(db, got.server.id, editing)
    if isinstance(data, Problem):
        return Preview(None, (data,), None, editing.variant)
    return await preview_draft(db, got.server, editor.draft(editing), data)


async def _editor(
    request: Request,
    got: Visit,
    editing: editor.Editing,
    *,
    problems: tuple[Problem, ...] = (),
    notice: _Notice | None = None,
    status: int = 200,
    spam: checks.SpamPanel | None = None,
    refused: int | None = None,
) -> Response:
    result = await _preview(request, got, editing)
    domains = sorted((await web_deps(request).directory.by_id(got.server.id)).domains)
    checker = web_deps(request).content_checks
    return page(
        "studio/editor.html",
        got.user.locale,
        status,
        **got.context(SECTION),
        editing=editing,
        preview=result,
        problems=problems,
        parts=editor.PARTS,
        notice=notice or _Notice(),
        may_edit=got.user.can(Capability.EDIT_CONTENT),
        test_from=f"{got.user.email.partition('@')[0]}@{domains[0]}" if domains else "",
        domains=domains,
        lint=await checks.lint_preview(checker, result, editor.draft(editing)),
        lint_titles=checks.LINT_TITLES,
        severities=checks.SEVERITIES,
        spam=spam,
        spam_configured=checker.spamd is not None,
        refused=refused,
    )


async def _spamcheck(request: Request, got: Visit, editing: editor.Editing) -> Response:
    """Score what the editor holds now (saved or not) with spamd, beside the preview."""
    checker = web_deps(request).content_checks
    result = await _preview(request, got, editing)
    sender = await _sender_domain(request, got)
    panel = await checks.spam_panel(checker, result, editor.draft(editing), sender)
    return await _editor(request, got, editing, spam=panel)


async def _sender_domain(request: Request, got: Visit) -> str | None:
    """The server's first sending domain: the From a real send would use."""
    return min((await web_deps(request).directory.by_id(got.server.id)).domains, default=None)


async def _save(request: Request, got: Visit, editing: editor.Editing, note: str) -> Response:
    """A new draft version when the content changed, and the test data when it did; sends
    keep using the published version until someone publishes."""
    db = web_deps(request).db
    template = editing.template
    model = parse_test_data(editing.test_data)
    if isinstance(model, Problem):
        return await _editor(request, got, editing, problems=(model,), status=422)
    query = f"?locale={editing.variant}"
    if editor.content_changed(editing):
        try:
            saved = await authoring.update_template(
                db,
                got.server.id,
                template.id,
                editor.fields(editing, note),
                publish=False,
                whole_variant=True,
            )
        except TemplateError as error:
            return await _editor(request, got, editing, problems=problems_of(error), status=422)
        except MisivaError as error:
            return await _editor(
                request, got, editing, problems=(Problem(error.message),), status=422
            )
        number = saved.version.number
        await _audit(request, got, "template.save", editing, version=str(number))
        query += f"&saved={number}"
    if (model or None) != editing.stored_test_data:
        await authoring.set_test_model(db, got.server.id, template.id, model or None)
        await _audit(request, got, "template.test_data", editing, keys=", ".join(sorted(model)))
        query += "&data=1"
    return RedirectResponse(_url(got.server.id, template.id, query), status_code=303)


async def _send_test(request: Request, got: Visit, editing: editor.Editing, form: Form) -> Response:
    """Send what the editor holds now (saved or not) to one address, accepted like any API
    send on the server's transactional stream; the page then links to its activity."""
    deps = web_deps(request)
    result = await _preview(request, got, editing)
    if result.rendered is None:
        return await _editor(request, got, editing, problems=result.problems, status=422)
    rendered = result.rendered
    to, sender = form.get("test_to").strip(), form.get("test_from").strip()
    send = SendFields(
        from_=sender,
        to=to,
        subject=TEST_PREFIX + rendered.subject,
        html_body=rendered.html_body,
        text_body=rendered.text_body,
        message_stream=DEFAULT_STREAM,
        metadata={"studio-template": str(editing.template.id), "studio-locale": editing.variant},
    )
    context = await deps.directory.by_id(got.server.id)
    [sent] = await deps.ingestor.accept(context, [send])
    if sent.error_code != ErrorCode.OK:
        problem = Problem(sent.message, "Test")
        return await _editor(request, got, editing, problems=(problem,), status=422)
    await _audit(request, got, "template.send_test", editing, to=to, message=sent.message_id)
    # Rendered, not redirected: the editor keeps what was typed, saved or not.
    notice = _Notice(sent=sent.message_id, sent_to=to)
    return await _editor(request, got, editing, notice=notice)


async def _audit(
    request: Request, got: Visit, action: str, editing: editor.Editing, **details: str
) -> None:
    template = editing.template
    await record(
        web_deps(request).db,
        got.user,
        action,
        template.alias or str(template.id),
        server_id=got.server.id,
        details={"locale": editing.variant, **details},
    )
