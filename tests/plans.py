"""Query plans of what storage functions really run: capture their SQL, EXPLAIN it as run."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from misiva.storage import Database, Tx

# Savepoints and the like have no plan; only these statements are explained.
_PLANNED = ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH")
# "SEARCH t USING INDEX i (a=?)", "SCAN t USING COVERING INDEX i", "SCAN t", "SEARCH t USING
# INTEGER PRIMARY KEY (rowid=?)": the detail column of EXPLAIN QUERY PLAN since SQLite 3.36.
_SQLITE_ACCESS = re.compile(
    r"^(?P<kind>SEARCH|SCAN) (?P<table>\w+)"
    r"(?: USING (?:(?:COVERING )?INDEX (?P<index>\w+)|(?P<pk>INTEGER PRIMARY KEY|PRIMARY KEY)))?"
)
_PG_INDEX_SCANS = ("Index Scan", "Index Only Scan")
_PG_BITMAPS = ("Bitmap Index Scan", "BitmapAnd", "BitmapOr")
# Each index of the current schema with its first column, and whether it is partial.
_PG_INDEXES = """
SELECT index_class.relname AS name, attribute.attname AS leading, ix.indpred IS NOT NULL AS partial
FROM pg_index AS ix
JOIN pg_class AS index_class ON index_class.oid = ix.indexrelid
JOIN pg_namespace AS ns ON ns.oid = index_class.relnamespace
JOIN pg_attribute AS attribute
  ON attribute.attrelid = ix.indrelid AND attribute.attnum = ix.indkey[0]
WHERE ns.nspname = current_schema()
"""
_SQLITE_PARTIAL_INDEXES = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
)


@dataclass(frozen=True, slots=True)
class Access:
    """How a plan reaches one table: through which index (None: the table itself), whether
    by a condition on the index's first column (a search) or by reading all of it (a scan),
    and whether that index is partial (it holds only the rows it was made for: a queue's)."""

    table: str
    index: str | None
    searched: bool
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    accesses: tuple[Access, ...]
    text: str

    def searches(self, index: str) -> bool:
        return any(a.index == index and a.searched for a in self.accesses)

    def scans(self, tables: Iterable[str]) -> list[Access]:
        """Accesses to these tables that read all of the table or of a full index."""
        names = set(tables)
        return [a for a in self.accesses if a.table in names and not (a.searched or a.partial)]

    def __str__(self) -> str:
        return f"{self.sql}\n--- plan ---\n{self.text}"


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    parameters: Any


@dataclass(frozen=True, slots=True)
class _Catalog:
    leading: dict[str, str]
    partial: frozenset[str]


@contextmanager
def _capturing(db: Database) -> Iterator[list[_Statement]]:
    """Every single statement the engine sends to the driver, as sent (executemany aside)."""
    seen: list[_Statement] = []

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(_PLANNED):
            seen.append(_Statement(statement, parameters))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def plans_of(db: Database, work: Callable[[Tx], Awaitable[object]]) -> list[Plan]:
    """Run `work` in a transaction that is rolled back, then EXPLAIN, on the same connection
    and with the same parameters, each statement it ran, in order."""
    async with db.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            with _capturing(db) as seen:
                await work(connection)
            catalog = await _catalog(db, connection)
            return [await _explain(db, connection, catalog, s) for s in seen]
        finally:
            await transaction.rollback()


async def _catalog(db: Database, connection: Tx) -> _Catalog:
    if db.is_postgres:
        rows = (await connection.exec_driver_sql(_PG_INDEXES)).all()
        return _Catalog(
            {r.name: r.leading for r in rows}, frozenset(r.name for r in rows if r.partial)
        )
    rows = (await connection.exec_driver_sql(_SQLITE_PARTIAL_INDEXES)).all()
    return _Catalog({}, frozenset(r.name for r in rows))


async def _explain(db: Database, connection: Tx, catalog: _Catalog, statement: _Statement) -> Plan:
    if db.is_postgres:
        # asyncpg sends the statement with $1-style placeholders and its values apart. EXPLAIN
        # of that same text with the same values bound is planned for those values, as the
        # first executions of a prepared statement are (custom plans): the plan the storage
        # function really got. Literal substitution would not be the statement that ran, and
        # EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16.
        result = await connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {statement.sql}", statement.parameters
        )
        document = result.scalar_one()
        tree = json.loads(document) if isinstance(document, str) else document
        root = tree[0]["Plan"]
        accesses = tuple(_pg_accesses(root, catalog))
        return Plan(statement.sql, accesses, json.dumps(root, indent=1))
    # SQLite plans with the bound values too: a parameter that decides whether a partial
    # index applies makes it prepare the statement again once the values are bound.
    result = await connection.exec_driver_sql(
        f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters
    )
    details = [str(row.detail) for row in result]
    accesses = tuple(_sqlite_accesses(details, catalog))
    return Plan(statement.sql, accesses, "\n".join(details))


def _sqlite_accesses(details: list[str], catalog: _Catalog) -> Iterator[Access]:
    for detail in details:
        found = _SQLITE_ACCESS.match(detail)
        if found is None:
            continue
        index = found["index"] or found["pk"]
        yield Access(
            table=found["table"],
            index=index,
            # A min() or max() with no usable index shows as a bare "SEARCH t": a scan.
            searched=found["kind"] == "SEARCH" and index is not None,
            partial=index in catalog.partial,
        )


def _pg_accesses(node: dict[str, Any], catalog: _Catalog) -> Iterator[Access]:
    kind = node["Node Type"]
    if kind == "Seq Scan":
        yield Access(node["Relation Name"], None, searched=False)
    elif kind in _PG_INDEX_SCANS:
        yield _pg_index_access(node["Relation Name"], node, catalog)
    elif kind == "Bitmap Heap Scan":
        for child in node.get("Plans", []):
            if child["Node Type"] in _PG_BITMAPS:
                for bitmap in _bitmap_index_scans(child):
                    yield _pg_index_access(node["Relation Name"], bitmap, catalog)
            else:
                yield from _pg_accesses(child, catalog)
        return
    for child in node.get("Plans", []):
        yield from _pg_accesses(child, catalog)


def _pg_index_access(table: str, node: dict[str, Any], catalog: _Catalog) -> Access:
    """An index scan searches only if its condition bounds the index's first column: with a
    condition on a later column alone, PostgreSQL before 18 reads the whole index."""
    index = node["Index Name"]
    leading = catalog.leading[index]
    # PostgreSQL writes each clause of an Index Cond with the index column on the left:
    # "((server_id = 2) AND (accepted_at < ...))", "((message_id)::text = ($1)::text)".
    clauses = node.get("Index Cond", "").split(" AND ")
    searched = any(re.match(rf"^\(*{re.escape(leading)}\b", c) for c in clauses)
    return Access(table, index, searched, partial=index in catalog.partial)


def _bitmap_index_scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node["Node Type"] == "Bitmap Index Scan":
        yield node
    for child in node.get("Plans", []):
        yield from _bitmap_index_scans(child)
