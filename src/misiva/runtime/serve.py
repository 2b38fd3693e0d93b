"""`misiva serve`: run the chosen components in one asyncio process until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn

from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.errors import SetupError
from misiva.runtime import processes
from misiva.runtime.wiring import Platform, build_platform, host_port
from misiva.scheduler.rollups import RollupFolder
from misiva.storage.migrate import ensure_migrated, server_advisories
from misiva.storage.notify import listening
from misiva.web.mount import mount_ui

log = logging.getLogger(__name__)

COMPONENTS = ("api", "smtp", "worker", "webhooks", "scheduler", "bounces")


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns signals and the drain order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_only(only: str | None) -> tuple[str, ...]:
    if not only:
        return COMPONENTS
    chosen = tuple(part.strip() for part in only.split(",") if part.strip())
    unknown = [c for c in chosen if c not in COMPONENTS]
    if unknown or not chosen:
        raise SetupError(
            f"unknown component {', '.join(unknown) or only!r}: choose from {', '.join(COMPONENTS)}"
        )
    return chosen


async def serve(settings: Settings, only: tuple[str, ...] = COMPONENTS) -> None:
    platform = build_platform(settings)
    try:
        await ensure_migrated(platform.db)
        for advice in await server_advisories(platform.db):
            log.warning("%s", advice)
        await _run(platform, only)
    finally:
        await platform.close()


async def _run(platform: Platform, only: tuple[str, ...]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    processes.die_with_parent()
    starters: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
    everything = only == COMPONENTS
    only, children = processes.split(platform.settings, only) if everything else (only, [])
    for number, components in enumerate(children, start=1):
        starters[f"process {number}"] = functools.partial(processes.run_child, components, stop)
    if "worker" in only:
        worker = platform.new_worker()
        # In one process, a commit wakes the worker at once instead of at its next poll.
        platform.ingestor.on_queued = worker.wake

        async def run_worker() -> None:
            # Other processes' commits (`--only api` elsewhere) wake it too, on PostgreSQL.
            async with listening(platform.db, worker.wake):
                await worker.run(stop)

        starters["worker"] = run_worker
    if "webhooks" in only:
        dispatcher = platform.new_dispatcher()
        starters["webhooks"] = lambda: dispatcher.run(stop)
    # The bounce receiver runs when a bounce domain is configured (or when asked for).
    if "bounces" in only and (platform.settings.bounce_domain or not everything):
        receiver = platform.new_bounce_receiver()
        starters["bounces"] = lambda: receiver.run(stop)
    if "scheduler" in only:
        retention = platform.new_retention()
        expiry = platform.new_expiry()
        folder = RollupFolder(platform.db)
        alerts = platform.new_alert_evaluator()
        domain_checks = platform.new_domain_checks()
        rotation = platform.new_dkim_rotation()

        async def run_scheduler() -> None:
            await asyncio.gather(
                retention.run(stop),
                expiry.run(stop),
                folder.run(stop),
                alerts.run(stop),
                domain_checks.run(stop),
                rotation.run(stop),
            )

        starters["scheduler"] = run_scheduler
    if "smtp" in only:
        submission = platform.new_submission_server()
        starters["smtp"] = lambda: submission.run(stop)
    if "api" in only:
        host, port = host_port("MISIVA_HTTP_ADDR", platform.settings.http_addr)
        config = uvicorn.Config(
            mount_ui(create_app(platform.api_deps()), platform.web_deps()),
            host=host,
            port=port,
            log_level=platform.settings.log_level.lower(),
            access_log=False,
            lifespan="off",
            timeout_keep_alive=int(platform.settings.http_keepalive_seconds),
        )
        api = _ApiServer(config)

        async def run_api() -> None:
            stopper = asyncio.create_task(_exit_on(stop, api))
            if processes.shares_port(platform.settings):
                await api.serve(sockets=[_shared_listener(host, port)])
            else:
                await api.serve()
            stopper.cancel()

        starters["api"] = run_api
        # Scheduled messages are released beside the API, not by the scheduler: the API is
        # where sends are accepted and where a trigger's "send now" wakes the releaser, so
        # `misiva serve` (the parent of the two-process split) and `--only api` both release.
        # Several API processes each run one; their claims never overlap (ingest.scheduled).
        starters["releaser"] = functools.partial(platform.releaser.run, stop)
    log.info("misiva serving %s", ", ".join(starters))
    tasks = {name: asyncio.create_task(start(), name=name) for name, start in starters.items()}
    done, _pending = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
    stop.set()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise SetupError(f"component {task.get_name()} failed: {task.exception()}")


def _shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket that the other API processes of this node bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise SetupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.listen(2048)
    return listener


async def _exit_on(stop: asyncio.Event, api: uvicorn.Server) -> None:
    await stop.wait()
    api.should_exit = True
