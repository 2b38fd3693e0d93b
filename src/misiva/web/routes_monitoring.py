"""A server's sending health: its alerts (open and resolved) and their levels, the Gmail and
Yahoo sender requirements per domain and stream, and DMARC aggregate reports with an upload."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from misiva.accounts import audit
from misiva.accounts.sender_requirements import sender_requirements
from misiva.domain.alerts import (
    DEFAULT_THRESHOLDS,
    RATES,
    AlertMetric,
    AlertState,
    format_value,
    threshold_from,
)
from misiva.domain.dmarc import MAX_FILE_BYTES, ReportTooLarge
from misiva.domain.errors import MisivaError
from misiva.domain.sender_requirements import Requirement, Verdict
from misiva.domain.users import Capability
from misiva.feedback.dmarc import DmarcReports
from misiva.storage import alerts as alert_store
from misiva.storage import dmarc as dmarc_store
from misiva.storage import domains as domain_store
from misiva.web.access import Visit, posted, visit
from misiva.web.deps import web_deps
from misiva.web.forms import checked_form, expired_form, same
from misiva.web.i18n import N_, gettext_for
from misiva.web.ops_pages import after_change, notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
RESOLVED_SHOWN = 50
REPORTS_SHOWN = 50
METRIC_LABEL = {
    AlertMetric.BOUNCE_RATE.value: N_("Bounce rate"),
    AlertMetric.COMPLAINT_RATE.value: N_("Complaint rate"),
    AlertMetric.DEFERRAL_RATE.value: N_("Deferral rate"),
    AlertMetric.DELIVERY_P95.value: N_("Time to delivery (95th percentile)"),
    AlertMetric.DNS_FAILING.value: N_("Failing DNS records of a sending domain"),
    AlertMetric.PROMO_STOCK.value: N_("Promo codes left in a pool"),
    AlertMetric.AUTOMATION_ERRORS.value: N_("Errors of an automation trigger"),
}
SCOPE_LABEL = {
    "server": N_("Whole server"),
    "stream": N_("Stream"),
    "provider": N_("Provider"),
    "domain": N_("Sending domain"),
    "pool": N_("Promo pool"),
    "trigger": N_("Trigger"),
}
LEVEL_LABEL = {"warning": N_("Warning"), "danger": N_("Danger")}
REQUIREMENT_LABEL = {
    Requirement.SPF.value: N_("SPF passes"),
    Requirement.DKIM.value: N_("DKIM signs"),
    Requirement.DMARC.value: N_("DMARC record published"),
    Requirement.ALIGNMENT.value: N_("From domain aligned"),
    Requirement.ONE_CLICK_UNSUBSCRIBE.value: N_("One-click unsubscribe"),
    Requirement.COMPLAINT_RATE.value: N_("Complaint rate under 0.3%"),
}
VERDICT_LABEL = {
    Verdict.MET.value: N_("Met"),
    Verdict.NOT_MET.value: N_("Not met"),
    Verdict.UNKNOWN.value: N_("Not known yet"),
    Verdict.NOT_APPLICABLE.value: N_("Not needed"),
}
_NOTICES = {
    "thresholds": N_("The alert levels were saved."),
    "checked": N_("The DNS checks have run."),
    "uploaded": N_("The report was stored."),
    "duplicate": N_("That report was stored already."),
}


@router.get("/ui/servers/{server_id}/alerts")
async def alerts_page(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.SEE_STATS)
    if isinstance(got, Response):
        return got
    return await _alerts_page(request, got)


async def _alerts_page(
    request: Request, got: Visit, *, error: str | None = None, status: int = 200
) -> Response:
    deps = web_deps(request)
    async with deps.db.reading() as tx:
        _total, resolved = await alert_store.list_alerts(
            tx, got.server.id, state=AlertState.RESOLVED, limit=RESOLVED_SHOWN
        )
        levels = await alert_store.thresholds(tx, got.server.id)
    lines = await sender_requirements(
        deps.db,
        got.server.id,
        bounce_domain=deps.domain_checker.setup.bounce_domain,
        clock=deps.clock,
    )
    return page(
        "monitoring/alerts.html",
        got.user.locale,
        status,
        **got.context("alerts"),
        resolved=resolved,
        # The levels a server sets: a promo pool's are its own low-stock threshold.
        levels=[levels[m] for m in DEFAULT_THRESHOLDS],
        requirements=lines,
        metric_label=METRIC_LABEL,
        scope_label=SCOPE_LABEL,
        rate_keys=[m.value for m in RATES],
        level_label=LEVEL_LABEL,
        requirement_label=REQUIREMENT_LABEL,
        verdict_label=VERDICT_LABEL,
        shown=format_value,
        notice=notice(request, _NOTICES, got.user.locale),
        error=error,
        may_change=got.user.can(Capability.MANAGE_INTEGRATION),
    )


@router.post("/ui/servers/{server_id}/alerts/thresholds")
async def save_thresholds(request: Request, server_id: int) -> Response:
    posted_form = await posted(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(posted_form, Response):
        return posted_form
    got, form = posted_form
    deps = web_deps(request)
    try:
        # Rates are typed as percentages, delivery time in seconds.
        levels = [
            threshold_from(
                m.value,
                _number(form.get(f"{m.value}-warning"), m),
                _number(form.get(f"{m.value}-danger"), m),
                form.get(f"{m.value}-volume") or "0",
            )
            for m in DEFAULT_THRESHOLDS
        ]
    except MisivaError as error:
        return await _alerts_page(request, got, error=error.message, status=422)
    async with deps.db.transaction() as tx:
        for level in levels:
            await alert_store.set_threshold(tx, server_id, level, deps.clock())
    await audit.record(
        deps.db,
        got.user,
        "alerts.thresholds",
        got.server.name,
        server_id=server_id,
        details={lv.metric.value: f"{lv.warning}/{lv.danger}/{lv.min_volume}" for lv in levels},
    )
    return after_change(server_id, "alerts", "thresholds")


def _number(text: str, metric: AlertMetric) -> float | str:
    try:
        value = float(text.replace(",", ".").strip().rstrip("%"))
    except ValueError:
        return text
    return value / 100 if metric in RATES else value


@router.post("/ui/servers/{server_id}/alerts/check")
async def check_domains(request: Request, server_id: int) -> Response:
    """Check every domain's DNS now, so the requirements read fresh records."""
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    if await checked_form(request, got.csrf) is None:
        return expired_form()
    deps = web_deps(request)
    async with deps.db.reading() as tx:
        domains = await domain_store.list_domains(tx, server_id)
    for domain in domains:
        try:
            await deps.domain_checker.check(deps.db, server_id, domain.name, clock=deps.clock)
        except MisivaError as error:
            return await _alerts_page(request, got, error=error.message, status=422)
    await audit.record(
        deps.db, got.user, "domain.check", got.server.name, server_id=server_id, details={}
    )
    return after_change(server_id, "alerts", "checked")


# --- DMARC reports ---------------------------------------------------------------------------


@router.get("/ui/servers/{server_id}/dmarc")
async def dmarc_page(request: Request, server_id: int, domain: str = "") -> Response:
    got = await visit(request, server_id, Capability.SEE_STATS)
    if isinstance(got, Response):
        return got
    return await _dmarc_page(request, got, domain)


async def _dmarc_page(
    request: Request, got: Visit, domain: str = "", *, error: str | None = None, status: int = 200
) -> Response:
    deps = web_deps(request)
    chosen = domain or None
    # Every kept report, whatever its period: an old one uploaded today is shown too.
    summary = await DmarcReports(deps.db).summary(got.server.id, domain=chosen)
    async with deps.db.reading() as tx:
        _total, reports = await dmarc_store.list_reports(
            tx, got.server.id, domain=chosen, limit=REPORTS_SHOWN
        )
        domains = await dmarc_store.report_domains(tx, got.server.id)
    return page(
        "monitoring/dmarc.html",
        got.user.locale,
        status,
        **got.context("dmarc"),
        summary=summary,
        reports=reports,
        domains=domains,
        domain=domain,
        notice=notice(request, _NOTICES, got.user.locale),
        error=error,
        may_upload=got.user.can(Capability.MANAGE_INTEGRATION),
    )


@router.post("/ui/servers/{server_id}/dmarc")
async def upload_dmarc(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.MANAGE_INTEGRATION)
    if isinstance(got, Response):
        return got
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FILE_BYTES + 64 * 1024:
        too_big = ReportTooLarge(f"The report file is over {MAX_FILE_BYTES // 2**20} MB.")
        return await _dmarc_page(request, got, error=too_big.message, status=413)
    # A multipart form (a file), so checked here rather than by checked_form (urlencoded).
    async with request.form(max_files=1, max_fields=5, max_part_size=1024) as form:
        token, upload = form.get("csrf"), form.get("report")
        if not isinstance(token, str) or not same(got.csrf, token):
            return expired_form()
        if not isinstance(upload, UploadFile):
            return await _dmarc_page(request, got, error=_no_file(got), status=422)
        data = await upload.read(MAX_FILE_BYTES + 1)
        name = upload.filename or "report"
    deps = web_deps(request)
    try:
        done = await DmarcReports(deps.db, clock=deps.clock).upload(server_id, data)
    except MisivaError as error:
        return await _dmarc_page(request, got, error=f"{name}: {error.message}", status=422)
    report = done.report
    await audit.record(
        deps.db,
        got.user,
        "dmarc.upload",
        report.policy.domain,
        server_id=server_id,
        details={"org": report.org_name, "report_id": report.report_id, "file": name},
    )
    return after_change(server_id, "dmarc", "uploaded" if done.new else "duplicate")


def _no_file(got: Visit) -> str:
    return gettext_for(got.user.locale).gettext("Choose a report file to upload.")
