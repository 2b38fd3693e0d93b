"""Two processes on one node: the API in one, delivery in the other, over the same database.

One Python process uses one core. Measured on two cores with 32 clients sending one message
per request (docs/performance.md), everything in one process accepted about 350 messages a
second with its one core saturated; the API in one process and delivery in another, over
the same SQLite file, about 520, with both cores working. So `misiva serve`, asked for
everything on a machine with two cores or more, starts delivery as a child process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys

from misiva.config import Settings
from misiva.domain.errors import SetupError

# What the child runs: the work that signs and sends mail and posts webhooks.
DELIVERY = ("worker", "webhooks")
PARENT_ENV = "MISIVA_PARENT_PID"


def split(settings: Settings, wanted: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The components this process runs, and those its delivery child runs (maybe none)."""
    processes = settings.processes or (2 if (os.cpu_count() or 1) >= 2 else 1)
    child = tuple(c for c in wanted if c in DELIVERY)
    here = tuple(c for c in wanted if c not in DELIVERY)
    if processes < 2 or not child or not here:
        return wanted, ()
    return here, child


async def run_child(components: tuple[str, ...], stop: asyncio.Event) -> None:
    """Run `misiva serve --only ...` until `stop`, then ask it to drain and wait for it.

    A child that exits by itself is a failure of the whole service: the parent stops too,
    so a supervisor (systemd, Docker) restarts both together.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "misiva.cli.main",
        "serve",
        "--only",
        ",".join(components),
        env={**os.environ, PARENT_ENV: str(os.getpid())},
    )
    exited = asyncio.ensure_future(process.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not exited.done():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            await exited
        stopping.cancel()
    if not stop.is_set():
        raise SetupError(
            f"the delivery process ({', '.join(components)}) exited: {exited.result()}"
        )


def die_with_parent() -> None:
    """In a child: be stopped (SIGTERM, so in-flight mail is recorded) if the parent dies,
    even by SIGKILL, so no orphan keeps delivering beside a restarted service."""
    expected = os.environ.get(PARENT_ENV)
    if not expected:
        return
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if str(os.getppid()) != expected:
        # The parent died before the request above took effect.
        os.kill(os.getpid(), signal.SIGTERM)
