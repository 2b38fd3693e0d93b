"""Fault suite, processes: kill -9 of the whole server, of one worker among several and of the
webhook dispatcher, at seeded-random moments under a stream of sends, repeatedly.

test_crash_and_scale.py kills one server once in the middle of a fixed batch; here the
kills repeat while mail keeps arriving, each role is restarted as a supervisor would, and
every accepted message's final state, the duplicates at the sink (at most what was in
flight at the kills) and every Delivery/Bounce webhook are checked (tests/faults.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from faults import (
    FaultReport,
    KillLedger,
    SendStream,
    add_webhook,
    backend,
    describe,
    fast_settings,
    seed,
    serve,
    settle,
)
from harness import Misiva, wait_until
from misiva.config import Settings
from misiva.runtime.wiring import build_platform
from misiva.testing.faulty_sink import FaultyWebhookReceiver
from misiva.testing.smtp_sink import SmtpSink
from misiva.webhooks.dispatcher import DispatchConfig

# Generous: a process starts in about a second alone, in many seconds on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

KILLS = 3
CONCURRENCY = 10  # fast_settings' worker_concurrency: the most a kill can leave in flight
# The dispatcher posts a claimed batch before recording it: the most a kill can post twice.
WEBHOOK_BATCH = DispatchConfig().batch_size


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _delivering(sink: SmtpSink) -> None:
    """Wait (bounded) until mail is flowing again, so the next kill lands on deliveries and
    not on a process still starting; near the end of the stream it may not, which is fine."""
    before = sink.count
    wait_until(lambda: sink.count >= before + 5, timeout=30)


def test_kill_9_of_the_whole_server_repeatedly_loses_nothing(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    rng = random.Random(chosen := seed())
    report = FaultReport("kill -9 server (all in one)", backend(database_url), chosen)
    # A receiver taking 0.1 s a message: at the stream's pace, ten deliveries are in flight.
    sink.delay_messages(0.1)
    # One process running everything: the kill takes the API, worker and dispatcher at once.
    misiva = misiva_factory(**fast_settings(sink, processes="1"))
    kills = KillLedger(database_url, sink)
    token, _ = misiva.setup_tenant()
    server = serve(misiva)
    with FaultyWebhookReceiver(chosen, rate=0.0) as receiver:
        add_webhook(misiva, token, receiver.url)
        with SendStream(misiva, token, limit=200) as stream:
            for _ in range(KILLS):
                _delivering(sink)
                time.sleep(rng.uniform(0.1, 1.0))
                _kill(server)
                kills.measure()
                server = serve(misiva)
            assert stream.wait_done(timeout=60)
        report.faults = {"kill -9 server": KILLS}
        report.unacknowledged = stream.unacknowledged
        report.in_flight_at_kills = kills.in_flight
        settle(report, database_url, stream.accepted, sink, receiver=receiver)
        report.publish()
    assert report.accepted > 0 and report.lost == 0, describe(report)
    assert report.duplicated <= sum(report.in_flight_at_kills), describe(report)
    assert all(n <= CONCURRENCY for n in report.in_flight_at_kills), describe(report)
    assert report.webhooks_missing == 0, describe(report)
    assert report.webhook_duplicates <= KILLS * WEBHOOK_BATCH, describe(report)


def test_kill_9_of_one_worker_among_several_and_of_the_dispatcher(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    rng = random.Random(chosen := seed())
    report = FaultReport("kill -9 one worker / dispatcher", backend(database_url), chosen)
    sink.delay_messages(0.1)
    misiva = misiva_factory(**fast_settings(sink))
    kills = KillLedger(database_url, sink)
    token, _ = misiva.setup_tenant()
    serve(misiva, "--only", "api")
    workers = [serve(misiva, "--only", "worker") for _ in range(2)]
    dispatcher = serve(misiva, "--only", "webhooks")
    # Each role killed twice, in a seeded order, each time at a seeded moment.
    plan = ["worker", "worker", "webhooks", "webhooks"]
    rng.shuffle(plan)
    with FaultyWebhookReceiver(chosen, rate=0.0) as receiver:
        add_webhook(misiva, token, receiver.url)
        with SendStream(misiva, token, limit=200) as stream:
            for role in plan:
                _delivering(sink)
                time.sleep(rng.uniform(0.1, 1.0))
                if role == "worker":
                    victim = rng.randrange(len(workers))
                    _kill(workers[victim])
                    kills.measure()
                    workers[victim] = serve(misiva, "--only", "worker")
                else:
                    _kill(dispatcher)
                    dispatcher = serve(misiva, "--only", "webhooks")
            assert stream.wait_done(timeout=60)
        report.faults = {"kill -9 worker": 2, "kill -9 dispatcher": 2}
        report.unacknowledged = stream.unacknowledged
        report.in_flight_at_kills = kills.in_flight
        settle(report, database_url, stream.accepted, sink, receiver=receiver)
        report.publish()
    assert report.accepted == 200 and report.lost == 0, describe(report)
    assert report.duplicated <= sum(report.in_flight_at_kills), describe(report)
    assert report.webhooks_missing == 0, describe(report)
    assert report.webhook_duplicates <= plan.count("webhooks") * WEBHOOK_BATCH, describe(report)


async def test_the_dispatcher_takes_its_lease_and_timeout_from_the_settings(tmp_path: Path) -> None:
    # The dispatcher kills above recover within MISIVA_WEBHOOK_LEASE_SECONDS: before it
    # existed, the lease was a fixed 60 s and a killed dispatcher's posts waited that long.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'misiva.db'}",
        webhook_lease_seconds=3,
        webhook_timeout_seconds=2,
    )
    platform = build_platform(settings)
    try:
        config = platform.new_dispatcher()._config
    finally:
        await platform.close()
    assert (config.lease_seconds, config.timeout_seconds) == (3, 2)
