"""Shared parts of the fault suites: a stream of sends, the final-state check and the report.

Every suite (tests/e2e/test_faults_*.py, test_drain.py) sends a stream of single-recipient
messages through /email/batch while it injects its faults, then checks every accepted
MessageID in the database: final (delivered, or bounced with the reply that bounced it),
and every delivered one received by the sink. "Minutes" of an outage are compressed into
seconds through the retry and timeout settings (FAST_SETTINGS), as docs/reliability.md says.

Figures: one summary line per scenario on stderr, and one JSON line appended to the file
named by MISIVA_FAULT_REPORT when it is set (docs/reliability.md's table comes from it).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import httpx

from harness import Misiva
from misiva.domain.enums import EventType, MessageStatus
from misiva.storage import Database
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.webhook_receiver import WebhookReceiver

_MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)
TRIGGERS = {"Delivery": {"Enabled": True}, "Bounce": {"Enabled": True}}
RECORD_TYPES = {MessageStatus.DELIVERED: "Delivery", MessageStatus.BOUNCED: "Bounce"}


def fast_settings(sink: SmtpSink, **extra: str) -> dict[str, str]:
    """Retries, leases and timeouts in fractions of a second instead of minutes."""
    return {
        "routes": f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        "retry_first_seconds": "0.2",
        "retry_max_interval_seconds": "1",
        # Still failing after this long: a soft bounce "retries expired" (a final state).
        "retry_max_age_seconds": "60",
        "smtp_connect_timeout": "2",
        # Generous against a loaded machine: a reply that comes after it is a duplicate.
        "smtp_command_timeout": "3",
        "lease_seconds": "4",
        "worker_concurrency": "10",
        "worker_batch_size": "10",
        "webhook_first_retry_seconds": "0.2",
        "webhook_poll_seconds": "0.2",
        "webhook_lease_seconds": "3",
        "webhook_timeout_seconds": "2",
        # The webhook receiver listens on 127.0.0.1, which production refuses (SSRF).
        "webhook_allow_private_targets": "true",
        **extra,
    }


def seed() -> int:
    """MISIVA_FAULT_SEED replays a run; otherwise a new seed, printed in the report."""
    chosen = int(os.environ.get("MISIVA_FAULT_SEED") or random.randrange(1_000_000))
    print(f"fault seed {chosen} (MISIVA_FAULT_SEED={chosen} replays it)", file=sys.stderr)
    return chosen


def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


def serve(misiva: Misiva, *args: str) -> subprocess.Popen[bytes]:
    """`misiva serve` waited for generously: on a loaded machine a start takes seconds."""
    process = misiva.serve(*args, wait_http=False)
    if not args or "api" in args[-1]:
        misiva.wait_ready(process, timeout=90)
    return process


def add_webhook(misiva: Misiva, token: str, url: str) -> None:
    response = httpx.post(
        f"{misiva.url}/webhooks",
        json={"Url": url, "Triggers": TRIGGERS},
        headers={"X-Postmark-Server-Token": token},
        timeout=10,
    )
    response.raise_for_status()


class SendStream:
    """Batches of single-recipient sends from a thread until stopped or `limit` accepted.

    A batch whose request failed (the server was down or died mid-request) is not
    accepted; if it was committed anyway its messages are delivered without being counted
    (`unacknowledged` says how many messages such requests carried).
    """

    def __init__(
        self, misiva: Misiva, token: str, *, limit: int, batch: int = 10, interval: float = 0.1
    ) -> None:
        self.accepted: list[str] = []
        self.unacknowledged = 0
        self._url, self._token = misiva.url, token
        self._limit, self._batch, self._interval = limit, batch, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> SendStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def wait_done(self, timeout: float = 60) -> bool:
        """Block until `limit` messages were accepted (or the stream was stopped)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        sent = 0
        with httpx.Client(base_url=self._url, timeout=30) as client:
            # Bounded: at most `limit` accepted, and at most 2000 attempts.
            for _ in range(2000):
                if self._stop.is_set() or self.count >= self._limit:
                    return
                batch = [
                    {
                        "From": "hola@shop.test",
                        "To": f"user{n}@example.com",
                        "Subject": f"Order {n}",
                        "TextBody": f"Order {n} confirmed",
                    }
                    for n in range(sent, sent + min(self._batch, self._limit - self.count))
                ]
                sent += len(batch)
                try:
                    response = client.post(
                        "/email/batch", json=batch, headers={"X-Postmark-Server-Token": self._token}
                    )
                except httpx.ConnectError:
                    pass  # nothing was sent: the server is down
                except httpx.HTTPError:
                    self.unacknowledged += len(batch)
                else:
                    if response.status_code == 200:
                        ok = [r["MessageID"] for r in response.json() if r["ErrorCode"] == 0]
                        with self._lock:
                            self.accepted += ok
                    else:
                        self.unacknowledged += len(batch)
                self._stop.wait(self._interval)


def received_ids(sink: SmtpSink) -> list[str]:
    found = []
    for message in sink.messages:
        match = _MESSAGE_ID.search(message.data)
        assert match, message.data[:500]
        found.append(match.group(1).decode())
    return found


async def _states(database_url: str, ids: list[str]) -> dict[str, MessageStatus]:
    db = Database(database_url, pool_size=2)
    try:
        found: dict[str, MessageStatus] = {}
        for start in range(0, len(ids), 500):
            async with db.transaction() as tx:
                chunk = await message_store.get_messages(tx, ids[start : start + 500])
            found |= {i: m.status for i, m in chunk.items()}
        return found
    finally:
        await db.close()


async def _bounce_replies(database_url: str, ids: list[str]) -> dict[str, str]:
    """Each bounced message's reason: the reply (or note) its bounce event recorded."""
    db = Database(database_url, pool_size=2)
    try:
        reasons: dict[str, str] = {}
        for message_id in ids:
            async with db.transaction() as tx:
                events = await event_store.list_events(tx, message_id)
            for event in events:
                if event.type is EventType.BOUNCED:
                    reasons[message_id] = event.details.get("reply", "")
        return reasons
    finally:
        await db.close()


def states(database_url: str, ids: list[str]) -> dict[str, MessageStatus]:
    return asyncio.run(_states(database_url, ids))


class KillLedger:
    """What each kill left in flight: the sink's receptions since the previous measure
    whose delivery is not recorded (the kill can make them be delivered again).

    Measured just after each kill, once a transaction the sink was finishing is done. It
    counts surviving workers' unrecorded deliveries too, so it is an upper bound; every
    duplicate comes from a reception counted here, so duplicates <= the sum.
    """

    def __init__(self, database_url: str, sink: SmtpSink) -> None:
        self._url, self._sink = database_url, sink
        self._seen = 0
        self.in_flight: list[int] = []

    def measure(self) -> int:
        time.sleep(0.5)
        received = received_ids(self._sink)
        window, self._seen = received[self._seen :], len(received)
        recorded = states(self._url, sorted(set(window)))
        count = sum(1 for i in window if recorded.get(i) is not MessageStatus.DELIVERED)
        self.in_flight.append(count)
        return count


@dataclass
class FaultReport:
    scenario: str
    backend: str
    seed: int
    faults: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    delivered: int = 0
    bounced: int = 0
    not_final: int = 0
    lost: int = 0
    duplicated: int = 0
    # What bounced them: reply code -> messages.
    bounce_codes: dict[str, int] = field(default_factory=dict)
    in_flight_at_kills: list[int] = field(default_factory=list)
    # Graceful drains: seconds from SIGTERM to exit 0, and what each finished meanwhile.
    drain_seconds: list[float] = field(default_factory=list)
    drained_deliveries: list[int] = field(default_factory=list)
    drained_webhooks: list[int] = field(default_factory=list)
    unacknowledged: int = 0
    webhooks_expected: int = 0
    webhooks_missing: int = 0
    webhook_duplicates: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def publish(self) -> None:
        line = " ".join(
            f"{k}={v}" for k, v in asdict(self).items() if k != "notes" and v not in ([], {})
        )
        print(f"fault-report {line}", file=sys.stderr)
        path = os.environ.get("MISIVA_FAULT_REPORT")
        if path:
            with open(path, "a") as out:
                out.write(json.dumps(asdict(self)) + "\n")


def settle(
    report: FaultReport,
    database_url: str,
    accepted: list[str],
    sink: SmtpSink,
    *,
    receiver: WebhookReceiver | None = None,
    timeout: float = 60,
) -> FaultReport:
    """Wait (bounded) until every accepted message is final, then fill in the report. The
    caller publishes it, then asserts: a failing run's figures are on record too."""
    began = time.monotonic()
    deadline = began + timeout
    found = states(database_url, accepted)
    while time.monotonic() < deadline and not all(s.is_final for s in _each(found, accepted)):
        time.sleep(0.5)
        found = states(database_url, accepted)
    received = Counter(received_ids(sink))
    report.accepted = len(accepted)
    report.delivered = sum(1 for i in accepted if found.get(i) is MessageStatus.DELIVERED)
    bounced = [i for i in accepted if found.get(i) is MessageStatus.BOUNCED]
    report.bounced = len(bounced)
    stuck = [i for i in accepted if i not in found or not found[i].is_final]
    report.not_final = len(stuck)
    unreceived = [
        i for i in accepted if found.get(i) is MessageStatus.DELIVERED and not received[i]
    ]
    reasons = asyncio.run(_bounce_replies(database_url, bounced)) if bounced else {}
    unexplained = [i for i in bounced if not reasons.get(i)]
    report.bounce_codes = dict(Counter(reasons[i][:3] for i in bounced if reasons.get(i)))
    report.lost = len(stuck) + len(unreceived) + len(unexplained)
    report.duplicated = sum(n - 1 for n in received.values())
    for label, ids in (("stuck", stuck), ("unreceived", unreceived), ("no reason", unexplained)):
        if ids:
            report.notes.append(f"{label}: {ids[:5]}")
    if receiver is not None:
        _check_webhooks(report, accepted, found, receiver, deadline)
    report.seconds = round(time.monotonic() - began, 1)
    return report


def _each(found: dict[str, MessageStatus], ids: list[str]) -> list[MessageStatus]:
    return [found.get(i, MessageStatus.QUEUED) for i in ids]


def _check_webhooks(
    report: FaultReport,
    accepted: list[str],
    found: dict[str, MessageStatus],
    receiver: WebhookReceiver,
    deadline: float,
) -> None:
    """Every final message's Delivery or Bounce event reaches the receiver (at least once)."""
    expected = {(i, RECORD_TYPES[found[i]]) for i in accepted if found.get(i) in RECORD_TYPES}

    def got() -> set[tuple[str, str]]:
        return {(p.json.get("MessageID"), p.json.get("RecordType")) for p in receiver.accepted}

    while time.monotonic() < deadline and not expected <= got():
        time.sleep(0.3)
    time.sleep(0.5)  # a duplicate post still under way arrives now
    report.webhooks_expected = len(expected)
    report.webhooks_missing = len(expected - got())
    ids = Counter(p.headers.get("webhook-id") for p in receiver.accepted)
    report.webhook_duplicates = sum(n - 1 for n in ids.values())


def fault_counts(*counters: Counter[str] | dict[str, int], **more: int) -> dict[str, int]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    total.update({k: v for k, v in more.items() if v})
    return dict(sorted(total.items()))


def describe(report: FaultReport) -> str:
    return json.dumps(asdict(report))
