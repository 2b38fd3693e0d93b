"""`misiva db upgrade|copy`, `misiva backup` and `misiva restore`: the database's safety."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from misiva.cli.common import run
from misiva.config import load_settings
from misiva.domain.errors import SetupError
from misiva.storage import Database
from misiva.storage.backup import (
    backup_postgres,
    backup_sqlite,
    ensure_not_in_use,
    pg_restore_hint,
    restore_sqlite,
    sqlite_path,
)
from misiva.storage.copy import CopyReport, copy_database, upgrade_or_explain
from misiva.storage.migrate import ensure_migrated

db_app = typer.Typer(help="The database.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("backup")(backup)
    app.command("restore")(restore)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the newest schema."""
    config = load_settings()
    upgrade_or_explain(config.database_url)
    typer.echo(f"database {config.database_url} is up to date")


def backup(path: Path = typer.Argument(..., help="The new backup file.")) -> None:
    """Back up the database while Misiva runs (SQLite); on PostgreSQL, run pg_dump."""
    url = load_settings().database_url
    database = sqlite_path(url)
    result = backup_sqlite(database, path) if database else backup_postgres(url, path)
    revision = f", schema {result.revision}, integrity checked" if result.revision else ""
    typer.echo(
        f"backup written to {result.path} ({result.size} bytes{revision}) in {result.seconds:.1f} s"
    )


def restore(path: Path = typer.Argument(..., help="A file written by `misiva backup`.")) -> None:
    """Replace the SQLite database with a backup (stop `misiva serve` first)."""
    url = load_settings().database_url
    database = sqlite_path(url)
    if database is None:
        raise SetupError(
            "the database is PostgreSQL: restore a pg_dump backup with "
            f"`{pg_restore_hint(url, path)}`"
        )
    result = restore_sqlite(database, path)
    if result.previous_saved_as is not None:
        typer.echo(f"the database it replaced is kept as {result.previous_saved_as}")
    upgraded = (
        f", upgraded from schema {result.revision_in_backup}"
        if result.revision_in_backup != result.revision_now
        else ""
    )
    typer.echo(f"restored {path} to {result.database} (schema {result.revision_now}{upgraded})")


@db_app.command("copy")
def db_copy(
    to: str = typer.Option(..., "--to", help="An empty PostgreSQL database: postgresql://..."),
) -> None:
    """Copy the SQLite database into an empty PostgreSQL one and verify every table."""
    url = load_settings().database_url
    source = sqlite_path(url)
    if source is None:
        raise SetupError("the database is already PostgreSQL: move it with pg_dump/pg_restore")
    if not to.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        raise SetupError(f"--to must be a postgresql:// URL, not {to!r}")
    # A running serve would go on accepting mail into the source after the snapshot, and that
    # mail would not be in the copy: refuse rather than lose it.
    ensure_not_in_use(source)
    upgrade_or_explain(to)
    report = run(_copy(url, to))
    _print_report(report)
    if not report.ok:
        sys.exit(1)


async def _copy(source_url: str, target_url: str) -> CopyReport:
    source, target = Database(source_url, pool_size=2), Database(target_url, pool_size=2)
    try:
        # Both at this Misiva's newest revision, so the tables are the same on both sides.
        await ensure_migrated(source)
        await ensure_migrated(target)
        return await copy_database(source, target, progress=_progress)
    finally:
        await source.close()
        await target.close()


def _progress(table: str, rows: int) -> None:
    # Only the big tables say how far they are: a line per 20,000 rows.
    if rows % 20000 == 0:
        typer.echo(f"  copying {table}: {rows} rows", err=True)


def _print_report(report: CopyReport) -> None:
    typer.echo(f"{'table':<24} {'source':>9} {'target':>9}  checksum (sha256)      result")
    for check in report.tables:
        verdict = "ok" if check.ok else "MISMATCH"
        typer.echo(
            f"{check.name:<24} {check.source_rows:>9} {check.target_rows:>9}  "
            f"{check.target_checksum[:20]}  {verdict}"
        )
        if not check.ok:
            typer.echo(f"{'':<24} source checksum {check.source_checksum[:20]}")
    typer.echo(
        f"{report.rows} rows in {len(report.tables)} tables: copied in "
        f"{report.copy_seconds:.1f} s, verified in {report.verify_seconds:.1f} s"
    )
    for table in report.changed_meanwhile:
        typer.echo(
            f"the source's {table} changed during the copy: what was written after the "
            "snapshot is not in the copy. Stop `misiva serve` and copy again into an empty "
            "database",
            err=True,
        )
    typer.echo("copy verified" if report.ok else "copy NOT verified", err=not report.ok)
