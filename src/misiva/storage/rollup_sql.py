"""The few SQL expressions the rollups need that SQLite and PostgreSQL spell differently."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.stats import Step
from misiva.storage.engine import Tx

VALUE_LENGTH: Final = 255


def is_postgres(tx: Tx) -> bool:
    return tx.dialect.name == "postgresql"


def period_start(tx: Tx, step: Step, column: Any) -> Any:
    """The start of the hour or UTC day a timestamp falls in, as the column stores it."""
    if is_postgres(tx):
        # In UTC whatever the session's time zone (PostgreSQL 12's three-argument form).
        return sa.func.date_trunc(step.value, column, "UTC")
    # SQLite keeps UTC as text 'YYYY-MM-DD HH:MM:SS.ffffff' (types.UTCDateTime): a start
    # must be written the same way for comparisons with bound datetimes to hold.
    text = sa.type_coerce(column, sa.Text)
    if step is Step.HOUR:
        return sa.func.substr(text, 1, 13).op("||")(":00:00.000000")
    return sa.func.substr(text, 1, 10).op("||")(" 00:00:00.000000")


def truncate(at: datetime, step: Step) -> datetime:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if step is Step.HOUR else hour.replace(hour=0)


def email_domain(tx: Tx, column: Any) -> Any:
    at = sa.func.strpos(column, "@") if is_postgres(tx) else sa.func.instr(column, "@")
    return sa.func.lower(sa.func.substr(column, at + 1, VALUE_LENGTH))


def seconds_between(tx: Tx, start: Any, end: Any) -> Any:
    if is_postgres(tx):
        return sa.extract("epoch", end - start)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


def upsert_adding(tx: Tx, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT (the primary key) DO UPDATE SET count = count + new."""
    insert = pg_insert if is_postgres(tx) else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={"count": table.c.count + statement.excluded["count"]},
    )
