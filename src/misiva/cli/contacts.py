"""`misiva contacts import`: load profiles from a CSV file, reporting rejected rows."""

from __future__ import annotations

from pathlib import Path

import typer

from misiva.accounts.contacts import import_csv
from misiva.cli.common import platform, run

contacts_app = typer.Typer(
    help="Contacts: the profiles templates personalise with.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")


@contacts_app.command("import")
def contacts_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    server: str = typer.Option(..., "--server", help="Name of the server the contacts belong to."),
) -> None:
    """Import a CSV (header row: email, first_name / FirstName, ... ; other columns become
    attributes). Valid rows are imported, each rejected row is reported with its reason."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            rows = max(sum(1 for _ in file.open(encoding="utf-8-sig")) - 1, 0)
            with typer.progressbar(length=rows, label="importing") as bar:
                report = await import_csv(p.db, context.server.id, file, progress=bar.update)
        for line, reason in report.rejected:
            typer.echo(f"line {line}: rejected: {reason}", err=True)
        typer.echo(f"{report.imported} contact(s) imported, {len(report.rejected)} rejected")

    run(go())
