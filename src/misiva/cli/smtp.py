"""`misiva smtp certificate`: a self-signed pair for the submission server in development."""

from __future__ import annotations

from pathlib import Path

import typer

from misiva.smtp.certificate import self_signed_files

smtp_app = typer.Typer(help="The SMTP submission server.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(smtp_app, name="smtp")


@smtp_app.command("certificate")
def smtp_certificate(
    folder: Path = typer.Argument(..., help="Where to write cert.pem and key.pem."),
    days: int = typer.Option(365, "--days", min=1, max=3650, help="How long it is valid."),
    force: bool = typer.Option(False, "--force", help="Replace a pair that is already there."),
) -> None:
    """Write a self-signed certificate for localhost and 127.0.0.1 (development only: mail
    clients on other hosts will not trust it)."""
    if (folder / "cert.pem").exists() and not force:
        typer.echo(f"{folder / 'cert.pem'} exists; keeping it (--force replaces it)")
        return
    cert, key = self_signed_files(folder, days=days)
    typer.echo(f"wrote {cert} and {key}")
