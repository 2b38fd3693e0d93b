"""Rows for every table, made from the columns' types: filler for copy and migration tests.

Values are plausible to the database (each column's type, NOT NULL, unique and foreign keys)
but not to Misiva's stages, so installations started on them should run only the API and the
workers, which touch only the rows a test sends. Deterministic: the same call, the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from misiva.storage.types import UTCDateTime

BASE_TIME = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def _is_datetime(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, UTCDateTime | sa.DateTime)


def value_for(column: sa.Column[Any], i: int, aware: bool = True) -> Any:
    """A value of the column's type for row `i`; distinct per row where that matters."""
    kind = column.type
    if column.nullable and not column.primary_key and i % 3 == 2:
        return None  # NULLs on every third row: SQL NULL must survive a copy too
    if isinstance(kind, sa.Boolean):
        return i % 2 == 0
    if isinstance(kind, sa.SmallInteger):
        return i % 100
    if isinstance(kind, sa.Integer):
        return i + 1
    if isinstance(kind, sa.Float):
        return i * 0.25 + 0.1
    if isinstance(kind, sa.JSON):
        return {"n": i, "name": f"ñandú {i}", "list": [1, 2.5, None, True], "nested": {"z": i}}
    if isinstance(kind, sa.LargeBinary):
        return b"From: a@shop.test\r\nSubject: \xe2\x9c\x93 " + str(i).encode() + b"\r\n\r\nhi\x00"
    if _is_datetime(column):
        moment = BASE_TIME + timedelta(seconds=i, microseconds=i % 1000)
        return moment if aware else moment.replace(tzinfo=None)
    if isinstance(kind, sa.String):
        # Upper and lower case alternate: a linguistic collation sorts them apart from byte
        # order, which a copy's checksum in primary-key order must not depend on.
        text = f"{'Ab'[i % 2]}{column.name[:6]}-{i}-é"
        length = kind.length or 1000
        return text[-length:]
    raise TypeError(f"no value for {column.table.name}.{column.name} of type {kind!r}")


def rows_for(
    table: sa.Table,
    count: int,
    parents: Mapping[str, list[Any]],
    *,
    first_id: int = 1,
    fixed: Mapping[str, Any] | None = None,
    aware: bool = True,
) -> Iterator[dict[str, Any]]:
    """`count` rows of `table`; a foreign key takes values from `parents["table.column"]`.

    Several foreign keys in one primary key (user_servers) are combined in mixed radix, so
    the pairs stay distinct as long as the parents have enough rows.
    """
    fixed = fixed or {}
    foreign = {fk.parent.name: fk.column for fk in table.foreign_keys}
    for i in range(count):
        row: dict[str, Any] = {}
        radix = 1
        for column in table.columns:
            if column.name in fixed:
                row[column.name] = fixed[column.name]
            elif column.name in foreign:
                target = foreign[column.name]
                choices = parents[f"{target.table.name}.{target.name}"]
                row[column.name] = choices[(i // radix) % len(choices)]
                radix *= len(choices)
            elif column.primary_key and isinstance(column.type, sa.Integer):
                row[column.name] = first_id + i
            else:
                row[column.name] = value_for(column, first_id + i, aware)
        yield row
