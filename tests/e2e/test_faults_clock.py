"""Steps of the server's wall clock under load: retries, leases and scheduled sends neither
stall for the step's length nor send a message twice beyond those in flight at the step."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from db_faults import received_ids, total
from harness import Misiva, wait_until
from misiva.testing.smtp_sink import SmtpSink
from stepped_clock import SteppedClock

pytestmark = pytest.mark.slow

# Leases are the default five minutes: the forward step is longer, so the messages in flight
# at the step look abandoned to the clock; the backward step is an hour, longer than any
# retry interval, so a retry waiting for it would be seen to stall.
FORWARD = 900.0
BACKWARD = -3600.0
# How long after a step the waiting mail may take to go: a few retry and poll intervals on a
# busy machine, far below either step.
PROMPT = 45.0


def _send(misiva: Misiva, token: str, to: list[str], send_at: datetime | None = None) -> list[str]:
    batch = [
        {
            "From": "hola@shop.test",
            "To": address,
            "Subject": f"Clock {n}",
            "TextBody": f"Clock {n}",
            **({"SendAt": send_at.isoformat()} if send_at else {}),
        }
        for n, address in enumerate(to)
    ]
    response = httpx.post(
        f"{misiva.url}/email/batch",
        json=batch,
        headers={"X-Postmark-Server-Token": token},
        timeout=60,
    )
    response.raise_for_status()
    assert all(r["ErrorCode"] == 0 for r in response.json()), response.json()
    return [r["MessageID"] for r in response.json()]


def _delivered(sink: SmtpSink, ids: list[str]) -> Callable[[], bool]:
    return lambda: set(ids) <= set(received_ids(sink))


def test_clock_steps_neither_stall_nor_double_send(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, tmp_path: Path
) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("the stepped clock is a small preloaded library built with gcc")
    clock = SteppedClock(tmp_path)
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        retry_first_seconds="2",
        processes="1",
    )
    token, _ = misiva.setup_tenant()
    plain_env = misiva.env
    misiva.env = {**plain_env, **clock.env}
    process: subprocess.Popen[bytes] = misiva.serve(wait_http=False)
    misiva.env = plain_env
    misiva.wait_ready(process, timeout=60)

    # Forward: scheduled sends fall due, leases of the messages in flight run out.
    scheduled = _send(
        misiva, token, ["later@example.com"] * 5, datetime.now(UTC) + timedelta(seconds=600)
    )
    sink.delay_messages(2.0)  # slow transactions, so that mail is in flight at the step
    in_flight = _send(misiva, token, [f"busy{n}@example.com" for n in range(20)])
    assert wait_until(lambda: sink.rcpt_count("example.com") >= 5, timeout=30)
    clock.step_to(FORWARD)
    sink.delay_messages(0.0)
    assert wait_until(_delivered(sink, scheduled), timeout=PROMPT), "scheduled sends stalled"
    assert wait_until(_delivered(sink, in_flight), timeout=PROMPT), misiva.logs()[-2000:]

    # Backward: retries deferred before the step are due within their interval, not an hour.
    sink.script_domain("retry.test", 451)
    deferred = _send(misiva, token, [f"r{n}@retry.test" for n in range(10)])
    assert wait_until(lambda: sink.rcpt_count("retry.test") >= 10, timeout=30)
    clock.step_to(FORWARD + BACKWARD)
    sink.script_domain("retry.test", 250)
    after = _send(misiva, token, [f"after{n}@example.com" for n in range(10)])
    assert wait_until(_delivered(sink, after), timeout=PROMPT), "new sends stalled"
    assert wait_until(_delivered(sink, deferred), timeout=PROMPT), "retries stalled"

    accepted = scheduled + in_flight + deferred + after
    assert wait_until(lambda: total(misiva, token, "queued") == 0, timeout=PROMPT)
    received = Counter(received_ids(sink))
    assert set(received) == set(accepted)
    duplicated = sum(n - 1 for n in received.values())
    # Only a message being delivered when the clock jumped past its lease can go twice.
    assert duplicated <= len(in_flight), received.most_common(3)
    assert all(received[m] == 1 for m in scheduled + deferred + after), received.most_common(3)
    print(
        f"clock steps {FORWARD:+.0f} s then {BACKWARD:+.0f} s: accepted {len(accepted)}, "
        f"delivered {len(received)}, lost 0, duplicated {duplicated} (in flight {len(in_flight)})"
    )
