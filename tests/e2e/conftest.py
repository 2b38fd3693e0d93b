"""End-to-end fixtures: an installation of Misiva and a real SMTP sink beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import Misiva

from misiva.testing.smtp_sink import SmtpSink


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
