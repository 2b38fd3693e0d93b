"""Run a job every so often until stopped, first after one interval; a pass still running
when the stop comes is cancelled (jobs that use it write only in their last short step)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from misiva.domain.errors import MisivaError

log = logging.getLogger(__name__)


async def run_every(
    stop: asyncio.Event, seconds: float, job: Callable[[], Awaitable[Any]], name: str
) -> None:
    """Passes of `job` every `seconds`. A DNS question can wait seconds for its timeout, so
    a pass is not waited for on shutdown: the process drains in a moment, not minutes."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        if stop.is_set():
            return
        task = asyncio.ensure_future(job())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        try:
            task.result()
        except MisivaError as error:
            log.error("%s paused: %s", name, error.message)
