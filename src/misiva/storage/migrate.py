"""Create or migrate the schema with Alembic; before serving, refuse an unmigrated database
and name the server settings that would slow Misiva down."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from misiva.domain.errors import SetupError
from misiva.storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema; safe to run again."""
    command.upgrade(alembic_config(database_url), "head")


def _revisions(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    return current, head


async def ensure_migrated(db: Database) -> None:
    """Raise SetupError unless the schema is at the newest revision."""
    try:
        async with db.engine.connect() as connection:
            current, head = await connection.run_sync(_revisions)
    except OSError as exc:
        raise SetupError(f"cannot reach the database {db.url}: {exc}") from exc
    if current != head:
        state = "not initialised" if current is None else f"at revision {current}"
        raise SetupError(
            f"the database {db.url} is {state}, not {head}: run `misiva db upgrade` first"
        )


async def server_advisories(db: Database) -> list[str]:
    """Warnings about the database server's settings, for the log at start."""
    if not db.is_postgres:
        return []
    async with db.reading() as tx:
        autovacuum = (await tx.execute(sa.text("SHOW autovacuum"))).scalar()
    if autovacuum != "off":
        return []
    # Measured in the soak (bench/soak_vacuum.py): with no statistics the dashboard's
    # rollup fold scanned every delivered event for each new one, 29 s instead of 34 ms at
    # 100,000 events, a PostgreSQL backend busy on it for the whole time.
    return [
        "PostgreSQL's autovacuum is off: Misiva's tables are never analysed or vacuumed, and"
        " its queries slow down as they grow. Turn it on (autovacuum = on, PostgreSQL's"
        " default), or run VACUUM (ANALYZE) on this database every few minutes."
    ]
