"""Graceful drain: SIGTERM stops accepting, finishes the deliveries and webhook posts in
flight, records them and exits 0 in bounded time; a rolling restart of two `--only worker`
processes under a stream of sends loses and duplicates nothing.

(A kill -9 is the other case: tests/e2e/test_faults_processes.py.)
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import httpx
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
from misiva.testing.faulty_sink import FaultyWebhookReceiver
from misiva.testing.smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

# The bound on a drain: the slowest in-flight step here takes 1 s (fast_settings' SMTP
# command timeout is 3 s, the webhook timeout 5 s); the rest is a loaded machine's slack.
DRAIN_BOUND = 30.0


def _terminate(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then wait (bounded) for exit 0; the seconds it took."""
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=DRAIN_BOUND) == 0
    return round(time.monotonic() - began, 2)


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/openapi.json", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        pass
    return False


def test_sigterm_stops_accepting_finishes_in_flight_work_and_exits_0(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    report = FaultReport("SIGTERM drain (api + delivery child)", backend(database_url), seed())
    sink.delay_messages(1.0)  # each message takes the receiver a second: in flight at SIGTERM
    with FaultyWebhookReceiver(report.seed, rate=0.0, delay=1.0) as receiver:
        # Two processes, as `misiva serve` runs on two cores: the API here, delivery and
        # webhooks in a child that the parent asks to drain and waits for.
        misiva = misiva_factory(**fast_settings(sink, processes="2", webhook_timeout_seconds="5"))
        token, _ = misiva.setup_tenant()
        server = serve(misiva)
        add_webhook(misiva, token, receiver.url)
        with SendStream(misiva, token, limit=60, batch=20, interval=0.1) as stream:
            assert stream.wait_done(timeout=60)
        # Deliveries and webhook posts under way (each takes its receiver a second).
        assert wait_until(lambda: sink.count >= 3 and receiver.in_progress > 0, timeout=60)
        at_term, posts_at_term = sink.count, len(receiver.accepted)
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        # It stops accepting first, well before the in-flight work is done.
        assert wait_until(lambda: _refused(misiva.url), timeout=DRAIN_BOUND)
        assert server.wait(timeout=DRAIN_BOUND) == 0, misiva.logs()[-3000:]
        report.drain_seconds.append(round(time.monotonic() - began, 2))
        report.drained_deliveries.append(sink.count - at_term)
        report.drained_webhooks.append(len(receiver.accepted) - posts_at_term)
        # Everything the receiver got was recorded before the exit: nothing to send twice.
        report.in_flight_at_kills.append(KillLedger(database_url, sink).measure())
        serve(misiva)
        settle(report, database_url, stream.accepted, sink, receiver=receiver, timeout=90)
        time.sleep(4)  # past webhook_lease_seconds: an unrecorded post would be made again now
        settle(report, database_url, stream.accepted, sink, receiver=receiver, timeout=10)
        report.faults = {"SIGTERM": 1}
        report.publish()
    # The drain had work to finish, and finished it.
    assert report.drained_deliveries[0] > 0 and report.drained_webhooks[0] > 0, describe(report)
    assert report.in_flight_at_kills == [0], describe(report)
    assert report.accepted == 60 and report.lost == 0 and report.duplicated == 0, describe(report)
    assert report.webhooks_missing == 0 and report.webhook_duplicates == 0, describe(report)


def test_rolling_restart_of_two_workers_under_load_loses_and_duplicates_nothing(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    report = FaultReport("rolling restart of 2 workers", backend(database_url), seed())
    sink.delay_messages(0.2)  # deliveries are in flight whenever a worker is told to stop
    misiva = misiva_factory(**fast_settings(sink))
    token, _ = misiva.setup_tenant()
    serve(misiva, "--only", "api")
    workers = [serve(misiva, "--only", "worker") for _ in range(2)]
    with SendStream(misiva, token, limit=200, interval=0.1) as stream:
        for number in range(2):
            wanted = 40 * (number + 1)
            assert wait_until(lambda: sink.count >= wanted, timeout=60)  # noqa: B023
            at_term = sink.count
            report.drain_seconds.append(_terminate(workers[number]))
            report.drained_deliveries.append(sink.count - at_term)
            workers[number] = serve(misiva, "--only", "worker")
        assert stream.wait_done(timeout=60)
    settle(report, database_url, stream.accepted, sink, timeout=90)
    report.faults = {"SIGTERM worker (rolling)": 2}
    report.publish()
    assert report.accepted == 200 and report.lost == 0, describe(report)
    assert report.duplicated == 0, describe(report)
