"""Fixtures for the bad-input suites: Misiva's real app over a real migrated database, wrapped so
schemathesis's in-process client can close it, and the Hypothesis budget in the report header."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fuzzing import PROFILE, SEED

from harness import asyncpg_dsn
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform
from misiva.storage.tables import metadata

# Requests the API suites made per backend, reported at the end of the run (docs/reliability.md).
CALLS: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CALLS:
        made = ", ".join(f"{backend} {count}" for backend, count in sorted(CALLS.items()))
        terminalreporter.write_line(f"misiva fuzz: schemathesis requests: {made}")


def pytest_report_header() -> str:
    return f"misiva fuzz: profile {PROFILE} (MISIVA_FUZZ_PROFILE=ci|fuzz), seed {SEED}"


class ClosingApp:
    """The API app with an ASGI lifespan that closes its platform. schemathesis runs every
    request on one event loop thread of its own; the database engine's connections belong to
    that loop, so they must be closed there, which its `shutdown_lifespans()` does."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.app = create_app(platform.api_deps())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            CALLS[self.platform.db.dialect] = CALLS.get(self.platform.db.dialect, 0) + 1
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.platform.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


@dataclass
class Installation:
    url: str
    token: str
    app: ClosingApp


async def _seed(url: str) -> str:
    """A server with a sending domain; its real API token authorises every generated call."""
    platform = build_platform(Settings(database_url=url, routes="*=capture"))
    try:
        created = await create_server(platform.db, "shop")
        await add_domain(platform.db, "shop.test", "shop")
        return created.api_token
    finally:
        await platform.close()


async def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


def _install(url: str) -> Iterator[Installation]:
    from schemathesis.python.asgi import shutdown_lifespans

    token = asyncio.run(_seed(url))
    app = ClosingApp(build_platform(Settings(database_url=url, routes="*=capture")))
    yield Installation(url=url, token=token, app=app)
    shutdown_lifespans()


# One database per backend for the whole module: state builds up as it would in use.
@pytest.fixture(scope="module")
def sqlite_installation(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    path = tmp_path_factory.mktemp("fuzz-api") / "misiva.db"
    shutil.copy(sqlite_template, path)
    yield from _install(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def postgres_installation(postgres_url: str) -> Iterator[Installation]:
    asyncio.run(_truncate(postgres_url))
    yield from _install(postgres_url)
