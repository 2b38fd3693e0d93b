"""Several processes on one node: the API in one, delivery in another, over one database.

One Python process uses one core. Measured on two cores with 32 clients sending one message
per request (docs/performance.md), everything in one process accepted about 350 messages a
second with its one core saturated; the API in one process and delivery in another, over
the same SQLite file, about 520, with both cores working. So `misiva serve`, asked for
everything on a machine with two cores or more, starts delivery as a child process (and,
when MISIVA_PROCESSES asks for more, more API processes on the same address).
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
# Chosen by measurement (docs/performance.md): on two cores a third process (a second API)
# made single sends slower (about 420/s against 790/s) and batches no faster.
AUTO_MAX = 2
PARENT_ENV = "MISIVA_PARENT_PID"


def process_count(settings: Settings) -> int:
    """How many processes `misiva serve` runs when asked for everything."""
    return settings.processes or min(AUTO_MAX, max(1, os.cpu_count() or 1))


def split(
    settings: Settings, wanted: tuple[str, ...]
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The components this process runs, and each child process's components.

    One process runs everything; two put delivery in a child; each process beyond two is
    one more API process sharing the port, since rendering, tracking and building MIME
    (about 80% of the API's CPU in profiles) is where a busy node spends most.
    """
    count = process_count(settings)
    delivery = tuple(c for c in wanted if c in DELIVERY)
    here = tuple(c for c in wanted if c not in DELIVERY)
    if count < 2 or not delivery or not here:
        return wanted, []
    children = [delivery]
    if "api" in here:
        children += [("api",)] * (count - 2)
    return here, children


def shares_port(settings: Settings) -> bool:
    """Several API processes listen on one address (SO_REUSEPORT: the kernel spreads
    connections across them)."""
    return process_count(settings) > 2


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
        raise SetupError(f"the child process ({', '.join(components)}) exited: {exited.result()}")


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
