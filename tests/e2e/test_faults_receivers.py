"""Fault suite, receivers: the receiving SMTP server and the webhook receiver misbehave at
random (seeded, src/misiva/testing/faulty_sink.py) under a stream of sends.

The SMTP server answers 421/451/452/550/552/554, drops the connection after DATA, stalls
past the client's timeout, and vanishes for seconds (what would be minutes: the retry
settings are compressed, tests/faults.py). The webhook receiver answers 500, answers
slowly or too slowly, and goes down for seconds. Every accepted message must end
delivered or bounced by the reply that bounced it, and every event reach its webhook.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from faults import (
    FaultReport,
    SendStream,
    add_webhook,
    backend,
    describe,
    fast_settings,
    fault_counts,
    seed,
    serve,
    settle,
)
from harness import Misiva, wait_until
from misiva.testing.faulty_sink import FaultySmtpSink, FaultyWebhookReceiver
from misiva.testing.smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

PERMANENT = ("550", "552", "554")


def test_smtp_receiver_faults_and_an_outage_leave_every_message_final(
    misiva_factory: Callable[..., Misiva], database_url: str
) -> None:
    rng = random.Random(chosen := seed())
    report = FaultReport("SMTP receiver faults + outage", backend(database_url), chosen)
    # Stalls outlast smtp_command_timeout (3 s in fast_settings): the client gives up first.
    with FaultySmtpSink(chosen, rate=0.25, stall_seconds=4.0) as sink:
        misiva = misiva_factory(**fast_settings(sink))
        token, _ = misiva.setup_tenant()
        serve(misiva)
        with SendStream(misiva, token, limit=200, interval=0.05) as stream:
            assert wait_until(lambda: stream.count >= 60, timeout=60)
            sink.vanish()  # connections refused: deliveries are deferred, then retried
            time.sleep(rng.uniform(2.0, 4.0))
            sink.come_back()
            assert stream.wait_done(timeout=60)
        settle(report, database_url, stream.accepted, sink, timeout=90)
        report.faults = fault_counts(sink.faults, vanished=sink.vanished)
        report.unacknowledged = stream.unacknowledged
        report.publish()
    assert report.accepted == 200 and report.lost == 0, describe(report)
    # Nothing a fault interrupted was recorded by the sink: a duplicate is Misiva's doing.
    assert report.duplicated == 0, describe(report)
    # Every 5xx bounced its message, and only a 5xx did: none of them stayed in the queue.
    permanent = sum(sink.faults[code] for code in PERMANENT)
    assert report.bounced == permanent, describe(report)
    assert set(report.bounce_codes) <= set(PERMANENT), describe(report)


def test_webhook_receiver_down_slow_or_failing_still_gets_every_event(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    rng = random.Random(chosen := seed())
    report = FaultReport("webhook receiver faults + outage", backend(database_url), chosen)
    sink.script_rcpt("user7@example.com", "550 5.1.1 no such user")  # one Bounce event too
    # Too slow = past webhook_timeout_seconds (2 s): received, yet retried, so a duplicate.
    with FaultyWebhookReceiver(chosen, rate=0.3, slow=0.3, too_slow=3.0) as receiver:
        misiva = misiva_factory(**fast_settings(sink))
        token, _ = misiva.setup_tenant()
        serve(misiva)
        add_webhook(misiva, token, receiver.url)
        with SendStream(misiva, token, limit=150, interval=0.05) as stream:
            assert wait_until(lambda: len(receiver.accepted) >= 20, timeout=60)
            receiver.go_down()
            time.sleep(rng.uniform(2.0, 4.0))
            receiver.come_back()
            assert stream.wait_done(timeout=60)
        settle(report, database_url, stream.accepted, sink, receiver=receiver, timeout=90)
        report.faults = fault_counts(
            {f"webhook {k}": v for k, v in receiver.faults.items()}, webhook_down=receiver.downs
        )
        report.publish()
    assert report.accepted == 150 and report.lost == 0 and report.bounced == 1, describe(report)
    assert report.webhooks_missing == 0, describe(report)
    assert report.webhook_duplicates <= receiver.faults["too_slow"], describe(report)
