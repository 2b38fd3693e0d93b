"""Read a table's rows in primary-key order as values that compare across SQLite and PostgreSQL,
and fold them into a count and a checksum.

The same function reads both sides of `misiva db copy`, so the checksum compares what a row
means, not how a backend spells it: datetimes as UTC ISO 8601, booleans as booleans (SQLite
stores 0/1), bytes as bytes, and JSON as canonical text (PostgreSQL's JSONB reorders keys,
drops whitespace and rewrites 1.0 as 1.0 but 1e2 as 100). JSON is read as its text, so SQL
NULL and JSON `null` stay two different things, as they are in the source.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from misiva.storage.engine import Tx
from misiva.storage.types import UTCDateTime

# Rows fetched per round trip: enough to amortise the round trip, few enough that memory stays
# a few megabytes even for messages with their MIME.
BATCH_ROWS = 1000


def is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.JSON)


def row_select(table: sa.Table, postgres: bool) -> sa.Select[Any]:
    """Every column of `table`, JSON as text, ordered by primary key the same on both backends.

    SQLite compares text byte by byte; PostgreSQL by the database's collation, where "a" may
    sort before "B". COLLATE "C" is PostgreSQL's byte order, so both sides agree on the order.
    """
    columns = [
        _as_text(column, postgres) if is_json(column) else column for column in table.columns
    ]
    order = [
        column.collate("C") if postgres and isinstance(column.type, sa.String) else column
        for column in table.primary_key.columns
    ]
    return sa.select(*columns).order_by(*order)


def _as_text(column: sa.Column[Any], postgres: bool) -> sa.ColumnElement[Any]:
    # PostgreSQL's driver decodes JSONB by itself, so the text needs a cast there; SQLite
    # already stores the text.
    text = sa.cast(column, sa.Text) if postgres else sa.type_coerce(column, sa.Text)
    return text.label(column.name)


async def stream_rows(
    tx: Tx, table: sa.Table, postgres: bool, batch: int = BATCH_ROWS
) -> AsyncIterator[Sequence[sa.Row[Any]]]:
    """The table's rows in batches, from a server-side cursor: memory stays bounded."""
    result = await tx.stream(row_select(table, postgres).execution_options(yield_per=batch))
    async for partition in result.partitions(batch):
        yield partition


def _canonical_float(text: str) -> float | int:
    # JSONB stores numbers as numeric and prints 1e16 as 10000000000000000: an integral float
    # becomes an int, on both sides.
    # Beyond 63 bits orjson reads integers as floats itself, so those stay floats here too.
    number = float(text)
    integral = math.isfinite(number) and number.is_integer() and abs(number) < 2**63
    return int(number) if integral else number


# Built once: json.loads with arguments builds a new decoder per call.
_decode = json.JSONDecoder(parse_float=_canonical_float).decode


@functools.lru_cache(maxsize=4096)
def canonical_json(text: str | None) -> bytes | None:
    """JSON text with sorted keys and no spaces; None (SQL NULL) stays None.

    orjson parses and prints in C: with the standard library this was half the verification's
    time on 100,000 messages. An exponent (Python writes 1e16 as 1e+16, JSONB as an integer)
    and numbers orjson refuses (beyond 64 bits) go through the careful decoder instead.
    Cached: many rows share their JSON ("[]", "{}"), and the function is pure.
    """
    if text is None:
        return None
    try:
        value = _decode(text) if "e+" in text or "E+" in text else orjson.loads(text)
    except orjson.JSONDecodeError:
        value = _decode(text)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _float_value(value: float | None) -> float | None:
    return None if value is None else float(value)


def normalisers(table: sa.Table) -> list[tuple[int, Callable[[Any], Any]]]:
    """(column index, function) for the columns whose backends' values differ in kind.

    UTCDateTime columns need none: that type hands back UTC-aware datetimes on both backends,
    whose repr is the same.
    """
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(table.columns):
        if is_json(column):
            found.append((index, canonical_json))
        elif isinstance(column.type, sa.Float):
            found.append((index, _float_value))
        elif isinstance(column.type, sa.DateTime) and not isinstance(column.type, UTCDateTime):
            raise TypeError(f"{table.name}.{column.name}: use UTCDateTime, which compares")
    return found


@dataclass
class TableDigest:
    """A running count and SHA-256 over a table's normalised rows, in primary-key order."""

    table: sa.Table
    rows: int = 0

    def __post_init__(self) -> None:
        self._hash = hashlib.sha256()
        self._normalisers = normalisers(self.table)

    def add(self, rows: Sequence[sa.Row[Any]]) -> None:
        update = self._hash.update
        for row in rows:
            values = list(row)
            for index, normalise in self._normalisers:
                values[index] = normalise(values[index])
            # repr of a list of None, bool, int, float, str, bytes and UTC datetimes tells
            # them all apart and is the same in every process: the row's canonical encoding.
            update(repr(values).encode())
            update(b"\n")
        self.rows += len(rows)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


async def table_digest(tx: Tx, table: sa.Table, postgres: bool) -> TableDigest:
    """Count and checksum one table, reading it in bounded batches."""
    digest = TableDigest(table)
    async for rows in stream_rows(tx, table, postgres):
        digest.add(rows)
    return digest
