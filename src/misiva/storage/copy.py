"""Copy every table of one Misiva database into another, empty one, and verify the copy.

`misiva db copy` moves an embedded (SQLite) installation onto PostgreSQL. The source is read in
one read transaction, which on SQLite (WAL) is a snapshot: the copy is consistent even if
something writes meanwhile, but what is written after the snapshot is not in it, so the copy
compares the source's row counts before and after and says so. Both databases must be at the
same Alembic revision; the target must be empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from misiva.domain.errors import SetupError
from misiva.storage.checksum import TableDigest, is_json, stream_rows, table_digest
from misiva.storage.engine import Database, Tx
from misiva.storage.migrate import upgrade
from misiva.storage.tables import metadata

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class TableCheck:
    """One table's verification: rows and checksum on each side."""

    name: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (
            self.target_rows,
            self.target_checksum,
        )


@dataclass
class CopyReport:
    """What `copy_database` did: per table checks, timings, and whether the source moved on."""

    tables: list[TableCheck] = field(default_factory=list)
    copy_seconds: float = 0.0
    verify_seconds: float = 0.0
    # Tables whose row count changed in the source while it was copied: written after the
    # snapshot, so not in the copy.
    changed_meanwhile: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.tables) and not self.changed_meanwhile

    @property
    def rows(self) -> int:
        return sum(check.target_rows for check in self.tables)


async def copy_database(
    source: Database, target: Database, progress: Progress | None = None
) -> CopyReport:
    """Copy, reset the target's sequences, verify; each line one named step."""
    await ensure_empty(target)
    report = CopyReport()
    started = time.monotonic()
    source_digests = await copy_tables(source, target, progress)
    report.copy_seconds = time.monotonic() - started
    started = time.monotonic()
    report.tables = await verify(target, source_digests)
    report.verify_seconds = time.monotonic() - started
    report.changed_meanwhile = await changed_since(source, source_digests)
    return report


def upgrade_or_explain(url: str) -> None:
    """Bring a database to this Misiva's newest schema, with one clear error if it cannot.

    `misiva db upgrade` uses it too: Alembic lets a missing database out as a traceback.
    """
    try:
        upgrade(url)
    except CommandError as exc:
        raise SetupError(f"cannot migrate the database {url}: {exc}") from exc
    except DBAPIError as exc:
        raise SetupError(f"cannot reach the database {url}: {exc.orig}") from exc
    except OSError as exc:
        raise SetupError(f"cannot reach the database {url}: {exc}") from exc


def _tables() -> Sequence[sa.Table]:
    # Parents before children, so every foreign key finds its row when it is inserted.
    return metadata.sorted_tables


async def ensure_empty(target: Database) -> None:
    """Refuse a target that holds any row: the copy would mix two installations."""
    async with target.reading() as tx:
        for table in _tables():
            if (await tx.execute(sa.select(sa.literal(1)).select_from(table).limit(1))).first():
                raise SetupError(
                    f"the target database {target.url} is not empty (table {table.name} has "
                    "rows): copy into a new, empty database"
                )


async def copy_tables(
    source: Database, target: Database, progress: Progress | None
) -> dict[str, TableDigest]:
    """Stream every table from one source snapshot into one target transaction.

    One target transaction: if anything fails the target stays empty, so the copy can simply
    run again. The source's rows are checksummed as they pass, from the same snapshot.
    """
    digests: dict[str, TableDigest] = {}
    async with source.reading() as read, target.transaction() as write:
        # A first statement through SQLAlchemy opens the transaction, so the COPYs that follow
        # on the same connection are inside it and a failure leaves the target empty.
        await write.execute(sa.select(sa.literal(1)))
        for table in _tables():
            digests[table.name] = await copy_table(read, write, table, (source, target), progress)
        if target.is_postgres:
            await reset_sequences(write)
    return digests


async def copy_table(
    read: Tx,
    write: Tx,
    table: sa.Table,
    databases: tuple[Database, Database],
    progress: Progress | None,
) -> TableDigest:
    """One table, batch by batch; a row the target refuses names its table, not a traceback."""
    source, target = databases
    digest = TableDigest(table)
    insert = insert_statement(table, target.is_postgres)
    try:
        async for rows in stream_rows(read, table, source.is_postgres):
            if target.is_postgres:
                await _copy_into_postgres(write, table, rows)
            else:
                await write.execute(insert, [_params(row) for row in rows])
            digest.add(rows)
            if progress is not None:
                progress(table.name, digest.rows)
    except DBAPIError as exc:
        # The driver's message alone: SQLAlchemy's would print a thousand rows of parameters.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise SetupError(
            f"copying table {table.name} failed after {digest.rows} rows: {reason}; "
            f"the target {target.url} is left as it was"
        ) from exc
    return digest


async def _copy_into_postgres(write: Tx, table: sa.Table, rows: Sequence[sa.Row[Any]]) -> None:
    # PostgreSQL's COPY (binary) takes a batch in one message: measured on 100,000 messages it
    # was many times faster than INSERT with parameter sets. It runs on the driver connection
    # of `write`, so inside the transaction `write` already opened.
    driver = (await write.get_raw_connection()).driver_connection
    assert driver is not None  # an open transaction's connection
    await driver.copy_records_to_table(
        table.name, records=[tuple(row) for row in rows], columns=[c.name for c in table.columns]
    )


def insert_statement(table: sa.Table, postgres: bool) -> sa.Insert:
    """An INSERT of every column from positional parameters; JSON arrives as its text.

    JSON is copied as text, not as Python values, so SQL NULL stays NULL and JSON null stays
    null. PostgreSQL casts the text to JSONB; SQLite stores it as it is.
    """
    values: dict[str, Any] = {}
    for index, column in enumerate(table.columns):
        if is_json(column):
            text = sa.bindparam(f"p{index}", type_=sa.Text)
            values[column.name] = sa.cast(text, column.type) if postgres else text
        else:
            values[column.name] = sa.bindparam(f"p{index}", type_=column.type)
    return table.insert().values(values)


def _params(row: sa.Row[Any]) -> dict[str, Any]:
    return {f"p{index}": value for index, value in enumerate(row)}


async def reset_sequences(tx: Tx) -> None:
    """Move each PostgreSQL sequence past the largest copied id, so new rows get new ids."""
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        # is_called false on an empty table: the first nextval then returns 1, as on a new
        # database, instead of 2.
        await tx.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) '
                f'FROM "{table.name}"'
            ),
            {"table": f'"{table.name}"', "column": column.name},
        )


async def verify(target: Database, source: dict[str, TableDigest]) -> list[TableCheck]:
    """Read the target back, checksummed the way the source was, table by table."""
    checks: list[TableCheck] = []
    async with target.reading() as tx:
        for table in _tables():
            copied = await table_digest(tx, table, target.is_postgres)
            original = source[table.name]
            checks.append(
                TableCheck(
                    name=table.name,
                    source_rows=original.rows,
                    target_rows=copied.rows,
                    source_checksum=original.hexdigest(),
                    target_checksum=copied.hexdigest(),
                )
            )
    return checks


async def changed_since(source: Database, copied: dict[str, TableDigest]) -> list[str]:
    """Tables whose source row count differs from the copied snapshot's."""
    changed: list[str] = []
    async with source.reading() as tx:
        for table in _tables():
            count = (await tx.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            if count != copied[table.name].rows:
                changed.append(table.name)
    return changed
