"""`misiva backup` while `misiva serve` accepts mail, and `misiva restore` of what it wrote:
consistent, checked, refused while in use, upgraded when older; pg_dump on PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from alembic import command

from harness import Misiva, wait_until
from misiva.domain.errors import SetupError
from misiva.storage.backup import restore_sqlite
from misiva.storage.migrate import alembic_config
from misiva.testing.smtp_sink import SmtpSink

# Two to four processes each, taking 20-60 s when the machine is not crowded; the bound
# leaves room for a machine shared with other runs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _send(misiva: Misiva, token: str, n: int) -> str:
    response = httpx.post(
        f"{misiva.url}/email",
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        json={
            "From": "hola@shop.test",
            "To": f"u{n}@example.com",
            "Subject": f"n {n}",
            "TextBody": "hola",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    message_id: str = response.json()["MessageID"]
    return message_id


def _sending(
    misiva: Misiva, token: str, accepted: list[str], errors: list[str], stop: threading.Event
) -> None:
    try:
        for n in range(2000):  # bounded: the test stops it long before
            if stop.is_set():
                return
            accepted.append(_send(misiva, token, n))
    except (AssertionError, httpx.HTTPError) as exc:  # the test reports it, not the thread
        errors.append(str(exc))


def _serve(misiva: Misiva) -> None:
    # A minute to start, not the harness's 20 s: this runs beside others on a shared machine.
    misiva.wait_ready(misiva.serve(wait_http=False), timeout=60)


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return list(connection.execute(query))


def test_backup_while_serving_is_consistent_and_restores(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str, tmp_path: Path
) -> None:
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none")
    token, _ = misiva.setup_tenant()
    _serve(misiva)
    accepted: list[str] = []
    errors: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_sending, args=(misiva, token, accepted, errors, stop))
    sender.start()
    try:
        assert _wait_for_count(accepted, 10), errors
        backup = tmp_path / "backups" / "misiva-backup.db"
        done = misiva.cli("backup", str(backup), check=False)
        assert _wait_for_count(accepted, len(accepted) + 10), errors
    finally:
        stop.set()
        sender.join(timeout=30)
    assert not errors
    if database_url.startswith("postgresql"):
        _check_pg_dump(misiva, done, backup)
        return
    assert done.returncode == 0, done.stderr
    assert "integrity checked" in done.stdout
    assert _rows(backup, "PRAGMA integrity_check") == [("ok",)]
    # One snapshot: every message in the backup has the queued event committed with it.
    in_backup = {str(row[0]) for row in _rows(backup, "SELECT id FROM messages")}
    queued = {
        row[0] for row in _rows(backup, "SELECT message_id FROM message_events WHERE type='queued'")
    }
    assert in_backup and in_backup == queued
    assert in_backup < set(accepted)  # serve went on accepting while the backup was taken

    # Restore is refused while serve has the database open, then done once it is stopped.
    refused = misiva.cli("restore", str(backup), check=False)
    assert refused.returncode == 1 and "in use" in refused.stderr
    assert "Traceback" not in refused.stderr
    misiva.stop_all()
    restored = misiva.cli("restore", str(backup))
    assert "kept as" in restored.stdout
    _serve(misiva)
    # The restored database is the backup's moment: its messages, and Misiva sends on it.
    kept = sorted(in_backup)[0]
    assert misiva.details(token, kept)["MessageID"] == kept
    later = _send(misiva, token, 9999)
    misiva.wait_for_event(token, later, "Delivered")


def _wait_for_count(accepted: list[str], count: int, timeout: float = 30) -> bool:
    return wait_until(lambda: len(accepted) >= count, timeout=timeout)


def _check_pg_dump(misiva: Misiva, done: subprocess.CompletedProcess[str], backup: Path) -> None:
    # PostgreSQL: `misiva backup` ran pg_dump, whose custom format pg_restore reads.
    assert done.returncode == 0, done.stderr
    listing = subprocess.run(
        ["pg_restore", "--list", str(backup)], capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0 and "TABLE DATA public messages" in listing.stdout
    refused = misiva.cli("restore", str(backup), check=False)
    assert refused.returncode == 1 and "pg_restore --clean" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_restore_upgrades_an_older_backup(tmp_path: Path, sqlite_template: Path) -> None:
    older = tmp_path / "older.db"
    shutil.copy(sqlite_template, older)
    command.downgrade(alembic_config(f"sqlite:///{older}"), "0010")
    misiva = Misiva(tmp_path, f"sqlite:///{tmp_path / 'live' / 'misiva.db'}")
    restored = misiva.cli("restore", str(older))
    assert "upgraded from schema 0010" in restored.stdout
    assert "kept as" not in restored.stdout  # there was no database to keep
    assert misiva.cli_json("servers", "create", "after-restore")["ID"] == 1


def test_restore_refuses_what_is_not_a_sound_misiva_backup(
    tmp_path: Path, sqlite_template: Path
) -> None:
    live = tmp_path / "live.db"
    shutil.copy(sqlite_template, live)
    misiva = Misiva(tmp_path, f"sqlite:///{live}")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    empty_sqlite = tmp_path / "other.db"
    with closing(sqlite3.connect(empty_sqlite)) as connection:
        connection.execute("CREATE TABLE t (x)")
    damaged = tmp_path / "damaged.db"
    shutil.copy(sqlite_template, damaged)
    with damaged.open("r+b") as handle:  # garbage over a page in the middle of the file
        handle.seek(damaged.stat().st_size // 2)
        handle.write(b"\xa5" * 4096)
    newer = tmp_path / "newer.db"
    shutil.copy(sqlite_template, newer)
    with closing(sqlite3.connect(newer)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
        connection.commit()
    cases: dict[Path, str | tuple[str, ...]] = {
        tmp_path / "missing.db": "there is no backup",
        text: "not an SQLite database",
        empty_sqlite: "not a Misiva one",
        damaged: ("damaged", "cannot be read"),
        newer: "newer Misiva",
    }
    before = live.read_bytes()
    for path, reason in cases.items():
        reasons = (reason,) if isinstance(reason, str) else reason
        with pytest.raises(SetupError) as refused:
            restore_sqlite(live, path)
        assert any(r in refused.value.message for r in reasons), (path, refused.value.message)
    # And through the command: one line, no traceback.
    result = misiva.cli("restore", str(damaged), check=False)
    assert result.returncode == 1 and result.stderr.startswith("misiva: ")
    assert "Traceback" not in result.stderr
    assert live.read_bytes() == before  # nothing refused touched the database


def test_backup_refuses_to_overwrite(tmp_path: Path, sqlite_template: Path) -> None:
    live = tmp_path / "live.db"
    shutil.copy(sqlite_template, live)
    misiva = Misiva(tmp_path, f"sqlite:///{live}")
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")
    result = misiva.cli("backup", str(existing), check=False)
    assert result.returncode == 1 and "already exists" in result.stderr
    assert existing.read_bytes() == b"keep me"
