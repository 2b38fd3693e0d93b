"""`misiva alerts ...` and `misiva dmarc ...`: sending-health alerts, the sender requirements
check and DMARC aggregate reports, from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from misiva.accounts.sender_requirements import sender_requirements
from misiva.api.routes_alerts import alert_json, requirements_json
from misiva.api.routes_dmarc import summary_json
from misiva.cli.common import platform, print_json, run
from misiva.domain.alerts import AlertState
from misiva.domain.dmarc import MAX_FILE_BYTES, ReportTooLarge
from misiva.domain.errors import MisivaError
from misiva.domain.sender_requirements import Verdict
from misiva.feedback.dmarc import DmarcReports
from misiva.storage import alerts as alert_store
from misiva.storage import domains as domain_store

alerts_app = typer.Typer(
    help="Sending-health alerts and sender requirements.", no_args_is_help=True
)
dmarc_app = typer.Typer(help="DMARC aggregate reports.", no_args_is_help=True)
_MARK = {
    Verdict.MET: "ok  ",
    Verdict.NOT_MET: "FAIL",
    Verdict.UNKNOWN: "?   ",
    Verdict.NOT_APPLICABLE: "-   ",
}


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(dmarc_app, name="dmarc")


@alerts_app.command("list")
def alerts_list(
    server: str = typer.Option(..., "--server", help="Name of the server."),
    state: str = typer.Option("open", "--state", help="open, resolved or all."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """The server's alerts, newest first (open ones unless --state says otherwise)."""
    if state not in ("open", "resolved", "all"):
        raise MisivaError("--state must be open, resolved or all")

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            async with p.db.reading() as tx:
                _total, found = await alert_store.list_alerts(
                    tx,
                    context.server.id,
                    state=None if state == "all" else AlertState(state),
                    limit=500,
                )
        if as_json:
            print_json([alert_json(a) for a in found])
            return
        if not found:
            typer.echo(f"no {'' if state == 'all' else state + ' '}alerts on server {server}")
        for alert in found:
            since = f"{alert.opened_at:%Y-%m-%d %H:%M} UTC"
            until = f" to {alert.resolved_at:%Y-%m-%d %H:%M}" if alert.resolved_at else ""
            typer.echo(f"#{alert.id} {alert.state.value:8} {since}{until}  {alert.describe()}")

    run(go())


@alerts_app.command("requirements")
def alerts_requirements(
    server: str = typer.Option(..., "--server", help="Name of the server."),
    check: bool = typer.Option(False, "--check", help="Check each domain's DNS anew first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Gmail's and Yahoo's 2024 sender requirements, met or not, per domain and stream."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            if check:
                async with p.db.reading() as tx:
                    domains = await domain_store.list_domains(tx, context.server.id)
                checker = p.domain_checker()
                for domain in domains:
                    await checker.check(p.db, context.server.id, domain.name)
            lines = await sender_requirements(
                p.db, context.server.id, bounce_domain=p.settings.bounce_domain
            )
        if as_json:
            print_json([requirements_json(line) for line in lines])
            return
        if not lines:
            typer.echo(f"server {server} has no sending domain yet")
        for line in lines:
            failing = ", ".join(r.value for r in line.not_met)
            verdict = (
                "all met" if line.met else f"NOT met: {failing}" if failing else "not known yet"
            )
            typer.echo(f"{line.domain} on {line.stream} ({line.stream_type.value}): {verdict}")
            for c in line.checks:
                typer.echo(f"  {_MARK[c.verdict]} {c.requirement.value:22} {c.detail}")

    run(go())


@dmarc_app.command("import")
def dmarc_import(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    server: str = typer.Option(..., "--server", help="Name of the server the reports are for."),
) -> None:
    """Store DMARC aggregate report files (.xml, .xml.gz or .zip); each is kept once."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            reports = DmarcReports(p.db)
            for path in files:
                if path.stat().st_size > MAX_FILE_BYTES:
                    raise ReportTooLarge(f"{path.name}: over {MAX_FILE_BYTES // 2**20} MB")
                try:
                    done = await reports.upload(context.server.id, path.read_bytes())
                except MisivaError as error:
                    raise MisivaError(f"{path.name}: {error.message}") from None
                r = done.report
                state = "stored" if done.new else "already stored"
                typer.echo(
                    f"{path.name}: {state}: {r.org_name} report {r.report_id} for "
                    f"{r.policy.domain}, {r.messages} messages, {r.messages - r.passed} failing"
                )

    run(go())


@dmarc_app.command("summary")
def dmarc_summary(
    server: str = typer.Option(..., "--server", help="Name of the server."),
    domain: str = typer.Option(None, "--domain", help="Only reports for this domain."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Pass and fail by source IP and disposition over every kept report; sources that send
    as the domain without an aligned DKIM or SPF pass are flagged."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            found = await DmarcReports(p.db).summary(context.server.id, domain=domain)
        if as_json:
            print_json(summary_json(found))
            return
        typer.echo(
            f"{found.reports} report(s), {found.messages} messages: {found.passed} pass DMARC, "
            f"{found.failed} fail"
        )
        typer.echo(
            "dispositions: " + ", ".join(f"{k} {v}" for k, v in sorted(found.dispositions.items()))
        )
        for s in found.sources:
            flag = "FLAG" if s.flagged else "    "
            typer.echo(
                f"{flag} {s.source_ip:39} {s.messages:>8} sent {s.passed:>8} pass "
                f"{s.failed:>8} fail  from {', '.join(s.header_from)}"
            )

    run(go())
