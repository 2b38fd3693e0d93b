"""Crash safety and sharing one queue: kill -9 mid-delivery, several processes, wake-ups."""

from __future__ import annotations

import email
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import Misiva, wait_until
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

CONCURRENCY = 20
_MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)


def _send_batches(misiva: Misiva, token: str, total: int, size: int = 500) -> list[str]:
    ids: list[str] = []
    with httpx.Client(base_url=misiva.url, timeout=60) as client:
        for start in range(0, total, size):
            batch = [
                {
                    "From": "hola@shop.test",
                    "To": f"user{n}@example.com",
                    "Subject": f"Order {n}",
                    "TextBody": f"Order {n} confirmed",
                }
                for n in range(start, min(start + size, total))
            ]
            response = client.post(
                "/email/batch", json=batch, headers={"X-Postmark-Server-Token": token}
            )
            response.raise_for_status()
            assert all(r["ErrorCode"] == 0 for r in response.json())
            ids += [r["MessageID"] for r in response.json()]
    return ids


def _received_ids(sink: SmtpSink) -> list[str]:
    found = []
    for message in sink.messages:
        match = _MESSAGE_ID.search(message.data)
        assert match, email.message_from_bytes(message.data)["Message-ID"]
        found.append(match.group(1).decode())
    return found


def test_kill_9_mid_delivery_loses_no_accepted_message(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    sink.delay(0.002)  # a slower receiver, so the kill lands while mail is in flight
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        lease_seconds="3",
        worker_concurrency=str(CONCURRENCY),
        # One process doing everything, so the kill lands on the deliveries themselves.
        processes="1",
    )
    token, _ = misiva.setup_tenant()
    first = misiva.serve()
    accepted = _send_batches(misiva, token, 1000)
    assert wait_until(lambda: sink.count >= 100, timeout=60)
    first.kill()
    first.wait()
    at_kill = sink.count
    assert at_kill < 1000, "everything was delivered before the kill; slow the sink down"
    misiva.serve()
    assert wait_until(lambda: set(accepted) <= set(_received_ids(sink)), timeout=120)
    received = Counter(_received_ids(sink))
    duplicates = sum(n - 1 for n in received.values())
    assert set(received) == set(accepted)
    assert duplicates <= CONCURRENCY


def test_two_workers_share_one_postgres_queue_without_double_delivery(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: several worker processes are a PostgreSQL setup")
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none")
    token, _ = misiva.setup_tenant()
    misiva.serve("--only", "api")
    misiva.serve("--only", "worker", wait_http=False)
    misiva.serve("--only", "worker", wait_http=False)
    accepted = _send_batches(misiva, token, 1000)
    assert wait_until(lambda: sink.count >= 1000, timeout=120)
    time.sleep(1)  # anything delivered twice would arrive now
    received = Counter(_received_ids(sink))
    assert set(received) == set(accepted)
    assert max(received.values()) == 1


def test_a_commit_in_an_api_process_wakes_a_separate_worker_at_once(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    # LISTEN/NOTIFY on PostgreSQL, a datagram to each listening process on SQLite.
    # A poll so slow that only a notification can explain a quick delivery.
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none", worker_poll_seconds="60"
    )
    token, _ = misiva.setup_tenant()
    misiva.serve("--only", "api")
    misiva.serve("--only", "worker", wait_http=False)
    time.sleep(1.5)  # the worker's first claim and LISTEN are done
    began = time.monotonic()
    _send_batches(misiva, token, 1, size=1)
    assert sink.wait_for(1, timeout=10)
    assert time.monotonic() - began < 5


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_default_serve_delivers_from_a_second_process_that_dies_with_it(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none", processes="2", worker_poll_seconds="60"
    )
    token, _ = misiva.setup_tenant()
    parent = misiva.serve()
    assert wait_until(lambda: len(_children(parent.pid)) == 1, timeout=10)
    [child] = _children(parent.pid)
    time.sleep(1.5)  # the child's first claim is done: only a wake-up explains a quick send
    began = time.monotonic()
    _send_batches(misiva, token, 1, size=1)
    assert sink.wait_for(1, timeout=10)
    assert time.monotonic() - began < 5
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    # No orphan keeps delivering beside the next service started on this database.
    assert wait_until(lambda: not _alive(child), timeout=20)


def test_extra_api_processes_share_the_address(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none", processes="3")
    token, _ = misiva.setup_tenant()
    parent = misiva.serve()
    assert wait_until(lambda: len(_children(parent.pid)) == 2, timeout=10)
    accepted = _send_batches(misiva, token, 40, size=1)
    assert sink.wait_for(40, timeout=30)
    assert set(_received_ids(sink)) == set(accepted)
