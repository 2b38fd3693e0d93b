"""Backups of the database: an online SQLite backup, its restore, and pg_dump for PostgreSQL.

SQLite is backed up with its backup API in one step: the step reads one snapshot (a WAL read
transaction) while `misiva serve` keeps writing, so the copy is consistent without stopping
anything. A restore, by contrast, replaces the file under the installation, so it refuses
while any process has the database open. PostgreSQL has its own tools (pg_dump, pg_restore),
which know its types, roles and sequences better than Misiva could.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url

from misiva.domain.errors import SetupError
from misiva.storage.migrate import alembic_config, upgrade

SQLITE_HEADER = b"SQLite format 3\x00"
# How long a backup or a restore waits for a lock another process holds for a moment.
LOCK_PATIENCE_SECONDS = 30


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    revision: str
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    database: Path
    revision_in_backup: str
    revision_now: str
    previous_saved_as: Path | None


def sqlite_path(database_url: str) -> Path | None:
    """The file of an SQLite URL; None for PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise SetupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _check_misiva_file(path: Path) -> str:
    """The Alembic revision of a sound Misiva SQLite file; SetupError for anything else."""
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise SetupError(f"{path} is not an SQLite database")
    try:
        with closing(sqlite3.connect(path, timeout=LOCK_PATIENCE_SECONDS)) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise SetupError(f"{path} is damaged: {'; '.join(problems[:3])}")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            if not {"alembic_version", "messages"} <= tables:
                raise SetupError(f"{path} is an SQLite database but not a Misiva one")
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SetupError(f"{path} cannot be read as a database: {exc}") from exc
    if row is None:
        raise SetupError(f"{path} has no schema revision: not a Misiva database")
    revision = str(row[0])
    try:
        ScriptDirectory.from_config(alembic_config("")).get_revision(revision)
    except CommandError as exc:
        raise SetupError(
            f"{path} is at schema revision {revision}, which this Misiva does not know: "
            "it was made by a newer Misiva"
        ) from exc
    return revision


def backup_sqlite(database: Path, destination: Path) -> BackupResult:
    """Copy the live database to `destination`, check it, and only then give it that name."""
    started = time.monotonic()
    if not database.is_file():
        raise SetupError(f"there is no database at {database}")
    if destination.exists():
        raise SetupError(f"{destination} already exists: choose a new file for the backup")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        with (
            closing(sqlite3.connect(database, timeout=LOCK_PATIENCE_SECONDS)) as source,
            closing(sqlite3.connect(partial)) as copy,
        ):
            # pages=-1: the whole database in one step, so in one read snapshot. Copying in
            # smaller steps would restart whenever serve commits between two of them.
            source.backup(copy, pages=-1)
            # A single file that needs no -wal beside it, whatever the source's mode was.
            copy.execute("PRAGMA journal_mode=DELETE")
        _fsync(partial)
        revision = _check_misiva_file(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    except sqlite3.Error as exc:
        raise SetupError(f"backup of {database} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        destination, destination.stat().st_size, revision, time.monotonic() - started
    )


def ensure_not_in_use(database: Path) -> None:
    """SetupError if another connection has the database open (serve, a CLI command).

    SQLite leaves WAL mode only when no other connection has the file open, so trying it is
    an exact test; the file is left in rollback-journal mode, which Misiva turns back to WAL
    when it next opens it.
    """
    if not database.exists():
        return
    with closing(sqlite3.connect(database, timeout=0)) as connection:
        try:
            connection.execute("PRAGMA journal_mode=DELETE").fetchone()
        except sqlite3.OperationalError as exc:
            raise SetupError(
                f"the database {database} is in use: stop `misiva serve` and any other "
                "misiva command using it first"
            ) from exc


def restore_sqlite(database: Path, backup: Path) -> RestoreResult:
    """Put a checked, upgraded copy of `backup` where the database is; keep the old one aside."""
    if not backup.is_file():
        raise SetupError(f"there is no backup at {backup}")
    revision = _check_misiva_file(backup)
    ensure_not_in_use(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    incoming = database.with_name(f".{database.name}.restoring-{os.getpid()}")
    try:
        shutil.copyfile(backup, incoming)
        _upgrade(incoming)
        _fsync(incoming)
        saved = _swap(database, incoming)
    finally:
        incoming.unlink(missing_ok=True)
    return RestoreResult(database, revision, _check_misiva_file(database), saved)


def _upgrade(path: Path) -> None:
    # An older backup is brought to this Misiva's schema before it takes the database's place,
    # so a failed migration leaves the installation as it was.
    try:
        upgrade(f"sqlite:///{path}")
    except CommandError as exc:
        raise SetupError(f"cannot upgrade the backup's schema: {exc}") from exc


def _swap(database: Path, incoming: Path) -> Path | None:
    """Move the current database aside and the incoming one in, holding others out meanwhile."""
    saved: Path | None = None
    if not database.exists():
        os.replace(incoming, database)
        return None
    with closing(sqlite3.connect(database, timeout=0, isolation_level=None)) as guard:
        try:
            guard.execute("PRAGMA journal_mode=DELETE")
            # EXCLUSIVE keeps any process from opening a transaction on the old file while
            # it is renamed; one that opens the path afterwards finds the restored file.
            guard.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            raise SetupError(
                f"the database {database} is in use: stop `misiva serve` first"
            ) from exc
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        saved = database.with_name(f"{database.name}.before-restore-{stamp}")
        os.replace(database, saved)
        os.replace(incoming, database)
        guard.execute("ROLLBACK")
    for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        # In rollback-journal mode there is no WAL to lose; an -shm left from the old file
        # must not be read as the new file's index.
        leftover.unlink(missing_ok=True)
    _fsync(database.parent)
    return saved


def pg_dump_command(database_url: str, destination: Path) -> list[str]:
    """The pg_dump call for a backup: custom format, restorable with pg_restore."""
    return [
        "pg_dump",
        "--format=custom",
        f"--file={destination}",
        f"--dbname={_libpq(database_url)}",
    ]


def pg_restore_hint(database_url: str, backup: Path) -> str:
    return (
        f"pg_restore --clean --if-exists --no-owner --dbname={_libpq(database_url)} {backup} "
        "&& misiva db upgrade"
    )


def _libpq(database_url: str) -> str:
    # Without the password: pg_dump takes it from PGPASSWORD, so it shows in no process list.
    url = make_url(database_url).set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def backup_postgres(database_url: str, destination: Path) -> BackupResult:
    """Run pg_dump when it is installed; otherwise say exactly what to run."""
    command = pg_dump_command(database_url, destination)
    if shutil.which("pg_dump") is None:
        raise SetupError(
            "the database is PostgreSQL: back it up with pg_dump, which is not installed "
            f"here: {' '.join(command)}"
        )
    if destination.exists():
        raise SetupError(f"{destination} already exists: choose a new file for the backup")
    started = time.monotonic()
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed when pg_dump succeeded, so a file with the
    # backup's name is always a whole backup.
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    password = make_url(database_url).password
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
    try:
        done = subprocess.run(
            pg_dump_command(database_url, partial),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SetupError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
        _fsync(partial)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(destination, destination.stat().st_size, "", time.monotonic() - started)
