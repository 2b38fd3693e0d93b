"""`misiva templates pull|push|install-starter`: templates as files a team keeps in git."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from misiva.authoring.content_checks import ContentReport
from misiva.authoring.content_json import report_json
from misiva.authoring.sync import Change, pull, push
from misiva.cli.common import platform, print_json, run
from misiva.starter import starter_dir

templates_app = typer.Typer(
    help="Templates as files, and the starter library.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(templates_app, name="templates")


def _print(changes: list[Change], dry_run: bool) -> None:
    prefix = "would " if dry_run else ""
    for change in changes:
        if change.action == "unchanged":
            typer.echo(f"  unchanged  {change.alias} (version {change.version})")
        else:
            where = "" if dry_run else f" -> version {change.version}"
            typer.echo(f"  {prefix}{change.action}  {change.alias}{where}")
    touched = sum(c.action != "unchanged" for c in changes)
    typer.echo(f"{touched} template(s) {prefix}changed, {len(changes) - touched} unchanged")


@templates_app.command("pull")
def templates_pull(
    directory: Path,
    server: str = typer.Option(..., "--server", help="Name of the server."),
) -> None:
    """Write every template's published version into DIRECTORY, one folder per template."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            written = await pull(p.db, context.server.id, directory)
        typer.echo(f"{len(written)} template(s) written to {directory}")

    run(go())


@templates_app.command("push")
def templates_push(
    directory: Path,
    server: str = typer.Option(..., "--server", help="Name of the server."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change; change nothing."),
) -> None:
    """Create or update templates from DIRECTORY; an unchanged template gets no new version."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            changes = await push(p.db, context.server.id, directory, dry_run=dry_run)
        _print(changes, dry_run)

    run(go())


@templates_app.command("install-starter")
def templates_install_starter(
    server: str = typer.Option(..., "--server", help="Name of the server."),
) -> None:
    """Install the starter library: a branded layout and lifecycle templates in es and en."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            changes = await push(p.db, context.server.id, starter_dir() / "templates")
        _print(changes, dry_run=False)

    run(go())


@templates_app.command("spamcheck")
def templates_spamcheck(
    template: str = typer.Argument(..., help="The template's alias or ID."),
    server: str = typer.Option(..., "--server", help="Name of the server."),
    version: int | None = typer.Option(None, "--version", help="Version (default: latest)."),
    as_json: bool = typer.Option(False, "--json", help="The API's JSON answer."),
) -> None:
    """Score a template version with SpamAssassin (spamd) and lint its content; exit 1 when
    it fails the checks a marketer's publish must pass."""

    async def go() -> ContentReport:
        async with platform() as p:
            context = await p.directory.by_name(server)
            checker = p.content_checker()
            checker.require_spamd()
            _, report = await checker.check_version(
                p.db,
                context.server,
                template,
                version,
                sender_domain=min(context.domains, default=None),
            )
        return report

    report = run(go())
    if as_json:
        print_json(report_json(report))
    else:
        _print_report(report)
    if report.blockers():
        # sys.exit: main() runs Typer without standalone mode, which swallows typer.Exit.
        sys.exit(1)


def _print_report(report: ContentReport) -> None:
    for check in report.variants:
        if check.problem:
            typer.echo(f"{check.variant}: {check.problem}")
            continue
        spam = check.spam
        if spam is not None:
            verdict = "SPAM" if spam.score >= report.threshold else "ok"
            typer.echo(
                f"{check.variant}: score {spam.score:.1f} (threshold {report.threshold:.1f}, "
                f"{verdict}, {spam.seconds * 1000:.0f} ms)"
            )
            for rule in spam.rules:
                typer.echo(f"  {rule.score:5.1f}  {rule.name:<24} {rule.description}")
        for finding in check.findings:
            where = f" {finding.part}:{finding.line}" if finding.line else ""
            typer.echo(f"  {finding.severity.value}: {finding.code.value}{where} {finding.message}")
