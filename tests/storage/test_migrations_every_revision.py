"""An installation of every earlier schema upgrades to the newest with its rows: on SQLite and
PostgreSQL, one database walks from the first Alembic revision to head; at each revision it
gets rows in every table that revision has, and at the end the schema is the one tables.py
describes and every row written at every revision is still there, unchanged.

Why one walk stands for "upgrade from each revision": Alembic upgrades from revision k by
running the steps after k in order, the same scripts whatever the start. So one walk runs
each step once, over the rows of every earlier revision (a superset of what an upgrade
from k alone meets), and a row lost or changed shows at the step that did it (rows are
counted after every step). Cloning a database per revision did the same work 15 times over:
over two minutes on PostgreSQL on a shared machine, against seconds for the walk.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from harness import POSTGRES_URL, postgres_admin
from misiva.storage import Database
from misiva.storage.migrate import alembic_config
from misiva.storage.tables import metadata
from rows import rows_for

ROWS = 3  # per table: enough for foreign keys to vary, few enough to stay quick

pytestmark = pytest.mark.timeout(300)


def _revisions() -> list[str]:
    """Every revision but head, oldest first: head itself is test_schema.py's case."""
    script = ScriptDirectory.from_config(alembic_config(""))
    oldest_first = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    return oldest_first[:-1]


def _reflect(connection: Connection) -> sa.MetaData:
    reflected = sa.MetaData()
    # As in test_schema.py: SQLite cannot reflect the expression index on lower(recipient).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        reflected.reflect(connection)
    return reflected


def _fill(connection: Connection, first_id: int) -> dict[str, list[dict[str, Any]]]:
    """Rows in every table the schema has at this revision, made from its reflected columns;
    returned as the database reads them back (its types, its defaults)."""
    reflected = _reflect(connection)
    parents: dict[str, list[Any]] = {}
    written: dict[str, list[dict[str, Any]]] = {}
    for table in reflected.sorted_tables:
        if table.name == "alembic_version":
            continue
        # Ids from 1000: a data migration that inserts rows takes ids from the sequence, 1 up.
        rows = list(rows_for(table, ROWS, parents, first_id=first_id))
        connection.execute(table.insert(), rows)
        for column in table.columns:
            parents[f"{table.name}.{column.name}"] = [row[column.name] for row in rows]
        key = list(table.primary_key.columns)
        ours = sa.tuple_(*key).in_([tuple(row[c.name] for c in key) for row in rows])
        written[table.name] = [
            dict(row._mapping) for row in connection.execute(sa.select(table).where(ours))
        ]
    return written


def _read(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    reflected = _reflect(connection)
    return {
        table.name: [dict(row._mapping) for row in connection.execute(sa.select(table))]
        for table in reflected.sorted_tables
    }


def _differences(connection: Connection) -> list[Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def _on(url: str, work: Any) -> Any:
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await db.close()


def _same(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Columns whose value changed in one row (columns the upgrade dropped are ignored)."""
    changed = []
    for name, value in before.items():
        if name in after and not _equal(value, after[name]):
            changed.append(f"{name}: {value!r} -> {after[name]!r}")
    return changed


def _equal(a: Any, b: Any) -> bool:
    # A column moved from DATETIME to UTCDateTime reads back aware; compare the instant.
    if hasattr(a, "tzinfo") and hasattr(b, "tzinfo") and (a.tzinfo is None) != (b.tzinfo is None):
        return bool(a.replace(tzinfo=None) == b.replace(tzinfo=None))
    return bool(a == b)


def _filler(first_id: int) -> Callable[[Connection], dict[str, list[dict[str, Any]]]]:
    return lambda connection: _fill(connection, first_id)


def _check_and_read(connection: Connection) -> tuple[list[Any], dict[str, list[dict[str, Any]]]]:
    return _differences(connection), _read(connection)


def _walk_to_head(url: str) -> None:
    """Upgrade one step at a time, filling every revision's tables; check rows and schema."""
    written: dict[str, dict[str, list[dict[str, Any]]]] = {}  # revision -> table -> rows
    for number, revision in enumerate(_revisions()):
        command.upgrade(alembic_config(url), revision)
        counts = {table: len(rows) for table, rows in asyncio.run(_on(url, _read)).items()}
        for table, rows in _written_so_far(written).items():
            assert counts.get(table, len(rows)) >= len(rows), (
                f"{table} lost rows upgrading to {revision}"
            )
        # Distinct ids and texts per revision, so unique keys never meet an earlier row.
        written[revision] = asyncio.run(_on(url, _filler(1000 + 100 * number)))
        assert written[revision]["messages"], f"no messages written at {revision}"
    command.upgrade(alembic_config(url), "head")
    differences, after = asyncio.run(_on(url, _check_and_read))
    assert differences == []
    for revision, tables in written.items():
        _check_survived(revision, tables, after)


def _written_so_far(
    written: dict[str, dict[str, list[dict[str, Any]]]],
) -> dict[str, list[dict[str, Any]]]:
    total: dict[str, list[dict[str, Any]]] = {}
    for tables in written.values():
        for table, rows in tables.items():
            total.setdefault(table, []).extend(rows)
    return total


def _check_survived(
    revision: str, tables: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> None:
    for table, rows in tables.items():
        if table == "alembic_version" or table not in after or table not in metadata.tables:
            continue
        key = [column.name for column in metadata.tables[table].primary_key.columns]
        found = {tuple(row[k] for k in key): row for row in after[table]}
        for row in rows:
            assert tuple(row[k] for k in key) in found, f"{table} {row} from {revision} lost"
            changed = _same(row, found[tuple(row[k] for k in key)])
            assert not changed, f"{table} row from {revision} changed: {changed}"


def test_every_earlier_sqlite_schema_upgrades_with_its_rows(tmp_path: Path) -> None:
    _walk_to_head(f"sqlite:///{tmp_path / 'walker.db'}")


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty database (the session's is already at head); dropped afterwards."""
    name = f"misiva_walk_{uuid.uuid4().hex[:10]}"
    try:
        postgres_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_earlier_postgresql_schema_upgrades_with_its_rows(empty_postgres: str) -> None:
    _walk_to_head(empty_postgres)
