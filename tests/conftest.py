"""Shared fixtures: real SQLite files and a real PostgreSQL database for every storage test, and
installations of Misiva with a real SMTP sink beside them for the end-to-end and UI tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from harness import POSTGRES_URL, Misiva, postgres_admin
from misiva.storage import Database
from misiva.storage.migrate import upgrade
from misiva.storage.tables import metadata
from misiva.testing.smtp_sink import SmtpSink
from spamd_daemon import HAVE_SPAMD, running_spamd

# The tests' webhook receivers listen on 127.0.0.1, which production refuses (SSRF): every
# Settings a test builds allows it (harness.Misiva sets it for `misiva serve` too).
os.environ.setdefault("MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, migrated once, dropped at the end."""
    name = f"misiva_test_{uuid.uuid4().hex[:10]}"
    try:
        postgres_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "misiva.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    postgres_admin(f"TRUNCATE {tables} RESTART IDENTITY CASCADE", url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "misiva.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()


# --- Installations of Misiva (end-to-end and UI tests) -------------------------------------


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def misiva_factory(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Misiva]]:
    """Installations on this test's database (SQLite and PostgreSQL); stopped afterwards."""
    made: list[Misiva] = []

    def make(**settings: str) -> Misiva:
        installation = Misiva(tmp_path, database_url, **settings)
        made.append(installation)
        return installation

    yield make
    for installation in made:
        installation.stop_all()


@pytest.fixture(scope="session")
def spamd_addr() -> Iterator[str]:
    """`host:port` of a real SpamAssassin spamd (Debian's spamd package), one per session."""
    if not HAVE_SPAMD:
        if IN_CI:
            pytest.fail("spamd is required in CI: `make test` installs Debian's spamd")
        pytest.skip("SpamAssassin's spamd is not installed (make test installs it)")
    with running_spamd() as addr:
        yield addr
