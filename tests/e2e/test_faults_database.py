"""Database faults under a stream of sends: PostgreSQL restarted, SQLite's disk full, the
database locked by a long transaction. After each, every accepted message is delivered and
recorded as sent, and every refused send was refused clearly and stored nowhere."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from db_faults import (
    PgProxy,
    SendStream,
    check_nothing_lost,
    fill,
    hold_lock,
    limit_file_size,
    small_volume,
    terminate_backends,
)
from harness import Misiva, wait_until
from misiva.domain.enums import ErrorCode
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

# The longest a send may take to be answered, accepted or refused, while the database is
# down, full or locked: SQLite's patience for another process's lock is 30 s
# (storage.sqlite_inline.BUSY_PATIENCE_SECONDS), and so is PostgreSQL's lock_timeout.
ANSWER_BOUND = 35.0


def _installation(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> tuple[Misiva, str]:
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        # A short lease: an attempt whose outcome could not be recorded during the fault is
        # tried again within seconds, not after the default five minutes.
        lease_seconds="4",
        retry_first_seconds="1",
        processes="1",
    )
    misiva.env["MISIVA_DATABASE_URL"] = database_url
    token, _ = misiva.setup_tenant()
    return misiva, token


def _serve(misiva: Misiva) -> subprocess.Popen[bytes]:
    """`misiva serve`, given a minute to start: the machine running the suite may be busy."""
    process = misiva.serve(wait_http=False)
    misiva.wait_ready(process, timeout=60)
    return process


def _stream(misiva: Misiva, token: str) -> SendStream:
    stream = SendStream(misiva.url, token, timeout=ANSWER_BOUND + 10).start()
    assert stream.wait_for(10), stream.outcomes[-3:]
    return stream


def _submit_by_smtp(misiva: Misiva, token: str) -> int:
    """One message through SMTP submission (plain AUTH on loopback): the reply code that
    ended it, 250 if it was accepted."""
    host, port = misiva.env["MISIVA_SMTP_ADDR"].rsplit(":", 1)
    content = b"From: hola@shop.test\r\nTo: smtp@example.com\r\nSubject: SMTP\r\n\r\nHi\r\n"
    with smtplib.SMTP(host, int(port), timeout=ANSWER_BOUND) as client:
        try:
            client.login(token, token)
            client.sendmail("hola@shop.test", ["smtp@example.com"], content)
        except smtplib.SMTPRecipientsRefused as refused:
            return int(refused.recipients["smtp@example.com"][0])
        except smtplib.SMTPResponseException as error:
            return error.smtp_code
    return 250


def test_postgres_restart_mid_run_loses_no_accepted_message(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL fault")
    proxy = PgProxy()
    try:
        misiva, token = _installation(misiva_factory, sink, proxy.url(database_url))
        _serve(misiva)
        stream = _stream(misiva, token)
        # A failover or an administrator kills every backend of the database, twice.
        for _ in range(2):
            before = len(stream.accepted)
            assert terminate_backends(database_url) > 0
            assert stream.wait_for(before + 10), stream.outcomes[-3:]
        # A restart: every connection cut, the port closed for 4 s, then open again.
        before = len(stream.accepted)
        proxy.down()
        began = time.monotonic()
        # SMTP submission meanwhile: a temporary refusal the client retries, never a 5xx
        # (before: aiosmtpd's "500 Error" at RCPT, and a 535 at AUTH that counted towards
        # the client's lockout).
        smtp_reply = _submit_by_smtp(misiva, token)
        time.sleep(max(0.0, 4.0 - (time.monotonic() - began)))
        proxy.up()
        assert stream.wait_for(before + 15, timeout=40), stream.outcomes[-3:]
        stream.stop()
        assert proxy.cut > 0
        # One send per cut (two kills, one restart) may have had its COMMIT on the wire.
        check_nothing_lost(
            "PostgreSQL restarted", misiva, token, sink, stream, ANSWER_BOUND, unconfirmed=3
        )
        assert stream.refused, "the sends during the outage were not refused: was it one?"
        assert smtp_reply in (451, 454), smtp_reply
        refusals = {
            (o.status, o.body["ErrorCode"]) for o in stream.refused if isinstance(o.body, dict)
        }
        assert refusals == {(503, ErrorCode.DATABASE_UNAVAILABLE)}, refusals
    finally:
        proxy.close()


def test_sqlite_disk_full_refuses_new_sends_and_loses_none(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite fault")
    volume = tmp_path / "volume"
    with small_volume(volume, size_mb=16) as mounted:
        database = volume / "misiva.db"
        database.write_bytes(Path(make_url(database_url).database or "").read_bytes())
        misiva, token = _installation(misiva_factory, sink, f"sqlite:///{database}")
        process = _serve(misiva)
        stream = _stream(misiva, token)
        filler = None
        if mounted:
            filler = fill(volume)
        else:
            # No mount here: the serve process may not grow any file past its present size.
            limit_file_size(process.pid, database.stat().st_size)
        before = len(stream.refused)
        assert wait_until(lambda: len(stream.refused) >= before + 5, timeout=60), misiva.logs()
        # Space returns; the running server takes sends again.
        if filler is not None:
            filler.unlink()
        else:
            limit_file_size(process.pid, None)
        before = len(stream.accepted)
        assert stream.wait_for(before + 10, timeout=40), stream.outcomes[-3:]
        stream.stop()
        # And a restart after the fault finds the database whole.
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        _serve(misiva)
        check_nothing_lost("SQLite disk full", misiva, token, sink, stream, ANSWER_BOUND)
        full = [o for o in stream.refused if o.status is not None]
        assert all(o.status == 503 for o in full), full[:3]


def test_a_long_transaction_delays_sends_but_loses_none(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink, database_url: str
) -> None:
    misiva, token = _installation(misiva_factory, sink, database_url)
    _serve(misiva)
    stream = _stream(misiva, token)
    with hold_lock(database_url):
        held_from = len(stream.outcomes)
        time.sleep(6)
    before = len(stream.accepted)
    assert stream.wait_for(before + 10, timeout=40), stream.outcomes[-3:]
    stream.stop()
    # The send that met the lock waited for it and was then accepted.
    blocked = stream.outcomes[held_from] if len(stream.outcomes) > held_from else None
    assert blocked is not None and blocked.seconds > 3, blocked
    check_nothing_lost("long transaction", misiva, token, sink, stream, ANSWER_BOUND)
    assert not stream.refused
