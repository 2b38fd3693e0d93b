"""Restarting `misiva serve` while 1,000 messages are scheduled for the next minute sends
each exactly once, on time: SIGTERM, then kill -9, before they fall due."""

from __future__ import annotations

import re
import signal
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from harness import Misiva, free_port, wait_until
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

TOTAL = 1000
# Room for scheduling and two restarts of a two-process `misiva serve` before the first is due.
LEAD = timedelta(seconds=35)
# Spread over ten seconds, a hundred due at each of them.
SPREAD = 10
# On time, measured from SendAt to the sink's receipt (release, accept, delivery) on a
# 2-core machine running both processes, the sink and this test.
ON_TIME = timedelta(seconds=10)
_MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)


def _schedule(misiva: Misiva, token: str, base: datetime) -> dict[str, datetime]:
    """Schedule TOTAL messages through the API; each MessageID with its SendAt."""
    scheduled: dict[str, datetime] = {}
    with httpx.Client(base_url=misiva.url, timeout=60) as client:
        for start in range(0, TOTAL, 500):
            batch = [
                {
                    "From": "hola@shop.test",
                    "To": f"user{n}@example.com",
                    "Subject": f"Reminder {n}",
                    "TextBody": f"Reminder {n}",
                    "SendAt": (base + timedelta(seconds=n % SPREAD)).isoformat(),
                }
                for n in range(start, start + 500)
            ]
            response = client.post(
                "/email/batch", json=batch, headers={"X-Postmark-Server-Token": token}
            )
            response.raise_for_status()
            for sent, result in zip(batch, response.json(), strict=True):
                assert result["ErrorCode"] == 0 and result["Message"].startswith("Scheduled")
                scheduled[result["MessageID"]] = datetime.fromisoformat(sent["SendAt"])
    return scheduled


def _received(sink: SmtpSink) -> list[tuple[str, datetime]]:
    found = []
    for message in sink.messages:
        match = _MESSAGE_ID.search(message.data)
        assert match is not None
        found.append((match.group(1).decode(), message.received_at))
    return found


@pytest.mark.timeout(180)
def test_restarted_serve_sends_each_scheduled_message_once_on_time(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        # The two-process split of a 2-core machine: API (and releaser) in the parent,
        # delivery in the child.
        processes="2",
    )
    token, _ = misiva.setup_tenant()
    first = misiva.serve()
    base = datetime.now(UTC) + LEAD
    scheduled = _schedule(misiva, token, base)
    listed = httpx.get(
        f"{misiva.url}/scheduled-messages",
        params={"status": "scheduled", "count": "1"},
        headers={"X-Postmark-Server-Token": token},
    ).json()
    assert listed["TotalCount"] == TOTAL

    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    second = misiva.serve()
    second.kill()  # kill -9: no drain, no goodbye
    second.wait()
    misiva.serve()
    assert datetime.now(UTC) < base, "the restarts took longer than the lead: raise LEAD"
    assert sink.count == 0

    last_due = base + timedelta(seconds=SPREAD - 1)
    budget = (last_due - datetime.now(UTC)).total_seconds() + 30
    assert wait_until(lambda: sink.count >= TOTAL, timeout=budget), sink.count
    time.sleep(2)  # anything released or delivered twice would arrive now
    received = _received(sink)
    copies = Counter(message_id for message_id, _ in received)
    assert set(copies) == set(scheduled)
    assert max(copies.values()) == 1, copies.most_common(3)
    lateness = [(at - scheduled[message_id]).total_seconds() for message_id, at in received]
    # The measurement, for the record (pytest -s).
    print(
        f"lateness over {len(lateness)} messages: median {statistics.median(lateness):.2f} s,"
        f" max {max(lateness):.2f} s, min {min(lateness):.3f} s"
    )
    assert min(lateness) >= 0, "a message left before its SendAt"
    assert max(lateness) < ON_TIME.total_seconds()
    sent = httpx.get(
        f"{misiva.url}/scheduled-messages",
        params={"status": "sent", "count": "1"},
        headers={"X-Postmark-Server-Token": token},
    ).json()
    assert sent["TotalCount"] == TOTAL


def test_two_api_processes_release_each_message_once(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    # Each `--only api` process runs a releaser over the same rows: SKIP LOCKED on
    # PostgreSQL, one writer at a time on SQLite.
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none")
    token, _ = misiva.setup_tenant()
    misiva.serve("--only", "api")
    other = f"127.0.0.1:{free_port()}"
    misiva.serve("--only", "api", wait_http=False, http_addr=other)
    misiva.serve("--only", "worker", wait_http=False)
    assert wait_until(lambda: _answers(f"http://{other}"), timeout=20)
    base = datetime.now(UTC) + timedelta(seconds=4)
    with httpx.Client(base_url=misiva.url, timeout=60) as client:
        response = client.post(
            "/email/batch",
            json=[
                {
                    "From": "hola@shop.test",
                    "To": f"user{n}@example.com",
                    "Subject": f"Reminder {n}",
                    "TextBody": "Soon",
                    "SendAt": base.isoformat(),
                }
                for n in range(300)
            ],
            headers={"X-Postmark-Server-Token": token},
        )
    ids = {r["MessageID"] for r in response.json()}
    assert len(ids) == 300
    assert wait_until(lambda: sink.count >= 300, timeout=40), sink.count
    time.sleep(2)
    copies = Counter(message_id for message_id, _ in _received(sink))
    assert set(copies) == ids and max(copies.values()) == 1


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
