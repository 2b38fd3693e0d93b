"""The migrations build the schema tables.py describes, and every one of them can be undone."""

from __future__ import annotations

import asyncio
import shutil
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from misiva.storage import Database
from misiva.storage.migrate import alembic_config, server_advisories, upgrade
from misiva.storage.tables import metadata


def _differences(connection: Connection) -> list[Any]:
    # SQLite's reflection cannot read an index on an expression (ix_message_events_recipient
    # is on lower(recipient)), so there it is not compared; PostgreSQL compares it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def _schema_differences(url: str) -> list[Any]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await db.close()


async def test_migrated_schema_is_the_one_the_tables_describe(database_url: str) -> None:
    # What autogenerate would write next: anything here is a table change with no migration,
    # or a migration that does not match its table.
    assert await _schema_differences(database_url) == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # SQLite only: downgrading the session's shared PostgreSQL database would break the
    # tests after this one if it failed halfway.
    path = tmp_path / "misiva.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
    assert asyncio.run(_schema_differences(url)) == []


async def test_server_advisories_name_autovacuum_when_postgresql_runs_without_it(
    db: Database,
) -> None:
    advisories = await server_advisories(db)
    if not db.is_postgres:
        assert advisories == []
        return
    # autovacuum is a server-wide setting (sighup), so the test reads what this server has
    # rather than changing it for every other test: each answer must match it.
    async with db.reading() as tx:
        autovacuum = (await tx.execute(sa.text("SHOW autovacuum"))).scalar()
    if autovacuum == "off":
        assert len(advisories) == 1 and "autovacuum is off" in advisories[0]
    else:
        assert advisories == []
