"""`misiva db copy` moves an SQLite installation with 100,000 messages onto PostgreSQL: every
table counted and checksummed on both sides, and Misiva sends on the copy afterwards."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from harness import MISIVA, POSTGRES_URL, Misiva, postgres_admin
from misiva.storage import Database
from misiva.storage.checksum import table_digest
from misiva.storage.copy import copy_database, verify
from misiva.storage.tables import messages, metadata
from misiva.testing.smtp_sink import SmtpSink
from rows import rows_for

# About a minute on an idle machine; the bound leaves room for a machine shared with other runs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MESSAGES = 100_000
OTHER_ROWS = 30  # per other table: every table and column type takes part in the copy

# The bulk of the source, written by SQLite itself: a recursive CTE makes 100,000 rows in a
# second, where building them in Python took a minute. Datetimes are the text SQLAlchemy
# writes for UTCDateTime, so Misiva reads them back as it reads its own.
_BULK_MESSAGES = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO messages (id, server_id, stream, domain_id, status, sender, envelope_from, to_list,
    cc_list, bcc_list, rcpt_state, subject, tag, metadata, track_opens, track_links,
    template_id, template_version, locale, mime, attempts, next_attempt_at, leased_by,
    accepted_at, updated_at, priority)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), :server, 'outbound', :domain, 'delivered',
    'Tienda <hola@shop.test>', 'bounces@shop.test', json_array(printf('u%d@example.com', i)),
    '[]', '[]', json_object(printf('u%d@example.com', i), 'delivered'),
    printf('Pedido %d ✓', i), CASE WHEN i % 3 = 0 THEN NULL ELSE 'receipt' END,
    json_object('order', i, 'total', i * 1.5, 'gift', json('true')), i % 2,
    CASE WHEN i % 2 THEN 'HtmlAndText' ELSE NULL END, NULL, NULL, 'es',
    CAST(printf('From: hola@shop.test%sSubject: Pedido %d%s%s%s', char(13, 10), i,
        char(13, 10), char(13, 10), substr(hex(zeroblob(300)), 1, 400)) AS BLOB),
    1, printf('%s.%06d', datetime('2026-03-01 08:00:00', printf('+%d seconds', i)), i),
    NULL, printf('%s.%06d', datetime('2026-03-01 08:00:00', printf('+%d seconds', i)), i),
    printf('%s.%06d', datetime('2026-03-01 08:00:00', printf('+%d seconds', i)), i), i % 2
FROM n
"""
_BULK_EVENTS = """
INSERT INTO message_events (message_id, server_id, type, recipient, created_at, details)
SELECT id, server_id, 'delivered', coalesce(json_extract(to_list, '$[0]'), 'x@example.com'),
    updated_at,
    json_object('DeliveryMessage', 'smtp;250 2.0.0 ok', 'Attempt', attempts)
FROM messages WHERE server_id = :server
"""


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database with a linguistic (ICU) collation, dropped afterwards.

    ICU's en-US sorts "a" before "B", byte order the other way round: the checksums, taken in
    primary-key order, must agree all the same.
    """
    name = f"misiva_copy_{uuid.uuid4().hex[:10]}"
    try:
        postgres_admin(
            f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate(path: Path) -> None:
    """30 rows in every table, then 100,000 messages with one event each in bulk."""
    engine = sa.create_engine(f"sqlite:///{path}")
    parents: dict[str, list[Any]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            first = 1 + (
                connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
            rows = list(rows_for(table, OTHER_ROWS, parents, first_id=1000 + first))
            connection.execute(table.insert(), rows)
            for column in table.primary_key.columns:
                parents[f"{table.name}.{column.name}"] = [row[column.name] for row in rows]
        server, domain = parents["servers.id"][0], parents["domains.id"][0]
        connection.execute(
            sa.text(_BULK_MESSAGES), {"count": MESSAGES, "server": server, "domain": domain}
        )
        connection.execute(sa.text(_BULK_EVENTS), {"server": server})
    engine.dispose()


def _copy(source: Misiva, target_url: str) -> subprocess.CompletedProcess[str]:
    # Not Misiva.cli: its 60 s timeout is for commands of a moment, and this one copies a
    # database on a machine shared with other test runs.
    return subprocess.run(
        [MISIVA, "db", "copy", "--to", target_url],
        env=source.env,
        cwd=source.workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def _counts_and_sample(url: str, sample: list[str]) -> tuple[dict[str, int], list[Any]]:
    """Every table's row count, and some messages whole: a check apart from the copy's own."""
    db = Database(url)
    try:
        async with db.reading() as tx:
            counts = {
                table.name: (
                    await tx.execute(sa.select(sa.func.count()).select_from(table))
                ).scalar_one()
                for table in metadata.sorted_tables
            }
            query = sa.select(messages).where(messages.c.id.in_(sample)).order_by(messages.c.id)
            return counts, [tuple(row) for row in await tx.execute(query)]
    finally:
        await db.close()


def _serve(misiva: Misiva) -> None:
    # The API and the workers only: the filler's rows mean nothing to the other stages. A
    # minute to start, not the harness's 20 s: this test runs beside others on a shared machine.
    misiva.wait_ready(misiva.serve("--only", "api,worker", wait_http=False), timeout=60)


def _send(misiva: Misiva, token: str, to: str) -> str:
    response = httpx.post(
        f"{misiva.url}/email",
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        json={"From": "hola@shop.test", "To": to, "Subject": "Hola", "TextBody": "Hola"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    message_id: str = response.json()["MessageID"]
    return message_id


def test_db_copy_moves_100k_messages_to_postgresql_and_misiva_sends_on_the_copy(
    tmp_path: Path, sink: SmtpSink, empty_postgres: str
) -> None:
    routes = f"*=smtp://127.0.0.1:{sink.port}?tls=none"
    (tmp_path / "source").mkdir()
    path = tmp_path / "source" / "misiva.db"
    source = Misiva(tmp_path / "source", f"sqlite:///{path}", routes=routes)
    source.cli("db", "upgrade")
    token, _ = source.setup_tenant()
    _serve(source)
    first = _send(source, token, "ana@example.com")
    source.wait_for_event(token, first, "Delivered")

    # While serve runs, mail accepted after the copy's snapshot would be lost: refused.
    refused = _copy(source, empty_postgres)
    assert refused.returncode == 1, refused.stdout
    assert "in use" in refused.stderr and "Traceback" not in refused.stderr
    source.stop_all()

    started = time.monotonic()
    populate(path)
    print(f"populated in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    copied = _copy(source, empty_postgres)
    seconds = time.monotonic() - started
    print(copied.stdout, f"\n`misiva db copy` took {seconds:.1f} s")
    assert copied.returncode == 0, copied.stdout + copied.stderr
    report = {
        match["table"]: (int(match["source"]), int(match["target"]), match["verdict"])
        for match in re.finditer(
            r"^(?P<table>\w+) +(?P<source>\d+) +(?P<target>\d+) +\w+ +(?P<verdict>\w+)$",
            copied.stdout,
            re.MULTILINE,
        )
    }
    assert set(report) == {table.name for table in metadata.sorted_tables}
    assert all(verdict == "ok" for *_, verdict in report.values()), report
    # The bulk, the filler's 30 and the one sent through serve.
    assert report["messages"][:2] == (MESSAGES + OTHER_ROWS + 1,) * 2
    assert "copy verified" in copied.stdout

    # Counted again, and 200 messages compared whole, apart from the copy's own verification.
    seed = random.randrange(2**32)
    print(f"sample seed {seed}")
    sample = [
        f"{i:08x}-0000-4000-8000-{i:012x}"
        for i in random.Random(seed).sample(range(1, MESSAGES + 1), 200)
    ]
    sqlite_side = asyncio.run(_counts_and_sample(f"sqlite:///{path}", [first, *sample]))
    postgres_side = asyncio.run(_counts_and_sample(empty_postgres, [first, *sample]))
    assert sqlite_side == postgres_side
    assert len(sqlite_side[1]) == 201
    assert sqlite_side[0]["message_events"] >= MESSAGES + 2  # queued and delivered of `first`

    # Misiva on the copy: the first message is there, and new rows take new ids.
    (tmp_path / "target").mkdir()
    target = Misiva(tmp_path / "target", empty_postgres, routes=routes)
    try:
        _serve(target)
        assert target.details(token, first)["Status"] == "Sent"
        second = _send(target, token, "luis@example.com")
        details = target.wait_for_event(token, second, "Delivered", timeout=30)
        assert [e["Recipient"] for e in details["MessageEvents"]] == ["luis@example.com"] * 2
        created = target.cli_json("servers", "create", "after-copy")
        # populate() numbered the 30 servers after `shop` from 1002 to 1031.
        assert created["ID"] == 1002 + OTHER_ROWS
    finally:
        target.stop_all()
    assert sink.wait_for(2, timeout=15)

    # A second copy into the same, now full, database is refused before it writes anything.
    again = _copy(source, empty_postgres)
    assert again.returncode == 1 and "not empty" in again.stderr
    assert "Traceback" not in again.stderr


async def test_verification_sees_a_changed_byte_and_json_null_for_sql_null(
    tmp_path: Path, sqlite_template: Path, postgres_url: str
) -> None:
    # The checksum must not be blind: a copy that lost one byte of a message, or turned SQL
    # NULL into JSON null (what binding None to a JSON column does), must not verify.
    path = tmp_path / "small.db"
    shutil.copy(sqlite_template, path)
    engine = sa.create_engine(f"sqlite:///{path}")
    parents: dict[str, list[Any]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            rows = list(rows_for(table, 6, parents))
            connection.execute(table.insert(), rows)
            for column in table.primary_key.columns:
                parents[f"{table.name}.{column.name}"] = [row[column.name] for row in rows]
        # SQLAlchemy writes None to a JSON column as JSON null; SQL NULL needs saying so.
        connection.execute(sa.text("UPDATE domains SET dns_check = NULL WHERE id % 2 = 0"))
    engine.dispose()
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    source, target = Database(f"sqlite:///{path}"), Database(postgres_url)
    try:
        async with target.transaction() as tx:
            await tx.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        report = await copy_database(source, target)
        assert report.ok and report.rows == 6 * len(metadata.sorted_tables)
        async with target.transaction() as tx:
            await tx.execute(
                sa.text("UPDATE domains SET dns_check = 'null' WHERE dns_check IS NULL")
            )
            await tx.execute(
                sa.text("UPDATE messages SET mime = mime || '\\x00'::bytea WHERE id = :id"),
                {"id": parents["messages.id"][0]},
            )
        async with source.reading() as tx:
            digests = {
                table.name: await table_digest(tx, table, postgres=False)
                for table in metadata.sorted_tables
            }
        failed = {check.name for check in await verify(target, digests) if not check.ok}
        assert failed == {"domains", "messages"}
    finally:
        async with target.transaction() as tx:
            await tx.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await source.close()
        await target.close()


def test_db_commands_fail_in_one_line(tmp_path: Path, sqlite_template: Path) -> None:
    # `misiva db upgrade` on a database that does not exist printed Alembic's traceback.
    path = tmp_path / "misiva.db"
    shutil.copy(sqlite_template, path)
    missing = make_url(POSTGRES_URL).set(database=f"missing_{uuid.uuid4().hex[:8]}")
    missing_url = missing.render_as_string(hide_password=False)
    cases = [
        (Misiva(tmp_path, missing_url), ("db", "upgrade"), "does not exist"),
        (
            Misiva(tmp_path, f"sqlite:///{path}"),
            ("db", "copy", "--to", missing_url),
            "does not exist",
        ),
        (
            Misiva(tmp_path, f"sqlite:///{path}"),
            ("db", "copy", "--to", "sqlite:///x.db"),
            "--to must",
        ),
    ]
    for misiva, args, reason in cases:
        result = misiva.cli(*args, check=False)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.startswith("misiva: ") and reason in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
