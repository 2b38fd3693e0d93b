"""`misiva templates pull|push|install-starter`: templates as files a team keeps in git."""

from __future__ import annotations

from pathlib import Path

import typer

from misiva.authoring.sync import Change, pull, push
from misiva.cli.common import platform, run
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
