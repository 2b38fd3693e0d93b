"""The SMTP sink shipped for tests: it accepts, records and answers as scripted."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from misiva.domain.smtp import SMTPReply
from misiva.testing.smtp_sink import SmtpSink, reply_line, self_signed_context

MESSAGE = b"From: a@example.org\r\nTo: x@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def _client(sink: SmtpSink) -> smtplib.SMTP:
    return smtplib.SMTP(sink.host, sink.port, local_hostname="client.test", timeout=5)


def test_accepts_a_message_and_records_its_envelope(sink: SmtpSink) -> None:
    with _client(sink) as client:
        client.sendmail("a@example.org", ["x@example.com", "y@example.com"], MESSAGE)
    assert sink.wait_for(1, timeout=5)
    [message] = sink.messages
    assert message.mail_from == "a@example.org"
    assert message.rcpt_tos == ("x@example.com", "y@example.com")
    assert message.data == MESSAGE
    assert message.peer[0] == "127.0.0.1"
    assert message.tls is False
    assert message.session == 1
    assert sink.sessions == 1
    assert sink.count == 1


def test_picks_a_free_port_and_reports_its_address(sink: SmtpSink) -> None:
    assert sink.port > 0
    assert sink.address == f"127.0.0.1:{sink.port}"


def test_null_reverse_path_is_recorded_as_empty(sink: SmtpSink) -> None:
    with _client(sink) as client:
        client.sendmail("", ["x@example.com"], MESSAGE)
    assert sink.wait_for(1)
    assert sink.messages[0].mail_from == ""


def test_451_then_250_at_rcpt_defers_the_first_attempt_only(sink: SmtpSink) -> None:
    sink.script_rcpt("X@example.com", "451 4.7.1 try later", "250 OK")
    with _client(sink) as client:
        client.ehlo()
        client.mail("a@example.org")
        assert client.rcpt("x@example.com") == (451, b"4.7.1 try later")
        client.rset()
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    assert sink.wait_for(2)


def test_550_at_rcpt_refuses_only_that_recipient(sink: SmtpSink) -> None:
    sink.script_rcpt("gone@example.com", 550)
    with _client(sink) as client:
        refused = client.sendmail("a@example.org", ["gone@example.com", "x@example.com"], MESSAGE)
    assert refused == {"gone@example.com": (550, b"5.0.0 scripted failure")}
    assert sink.wait_for(1)
    assert sink.messages[0].rcpt_tos == ("x@example.com",)


def test_scripted_data_reply_rejects_the_transaction(sink: SmtpSink) -> None:
    sink.script_data("554 5.7.1 spam", 250)
    with _client(sink) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        assert refused.value.smtp_code == 554
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    assert sink.wait_for(1)
    assert sink.count == 1


def test_421_reply_closes_the_connection(sink: SmtpSink) -> None:
    sink.script_mail(SMTPReply(421, "4.3.2 shutting down"))
    with _client(sink) as client:
        client.ehlo()
        assert client.mail("a@example.org") == (421, b"4.3.2 shutting down")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_sessions_count_connections_not_messages(sink: SmtpSink) -> None:
    with _client(sink) as client:
        for _ in range(3):
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    with _client(sink) as client:
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    assert sink.wait_for(4)
    assert sink.sessions == 2
    assert [m.session for m in sink.messages] == [1, 1, 1, 2]


def test_drop_connections_closes_open_sessions(sink: SmtpSink) -> None:
    with _client(sink) as client:
        client.ehlo()
        sink.drop_connections()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_delay_slows_every_reply(sink: SmtpSink) -> None:
    sink.delay(0.05)
    started = time.monotonic()
    with _client(sink) as client:
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    # EHLO, MAIL, RCPT and DATA each waited.
    assert time.monotonic() - started >= 0.2


def test_wait_for_gives_up_after_its_timeout(sink: SmtpSink) -> None:
    started = time.monotonic()
    assert sink.wait_for(1, timeout=0.1) is False
    assert time.monotonic() - started < 2


def test_smtputf8_and_8bitmime_are_offered_and_recorded(sink: SmtpSink) -> None:
    body = "From: a@example.org\r\nSubject: ñ\r\n\r\nCañón\r\n".encode()
    with _client(sink) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        assert client.has_extn("8bitmime")
        client.sendmail("a@example.org", ["josé@example.com"], body, ["SMTPUTF8", "BODY=8BITMIME"])
    assert sink.wait_for(1)
    [message] = sink.messages
    assert message.rcpt_tos == ("josé@example.com",)
    assert "SMTPUTF8" in message.mail_options
    assert message.data == body


def test_starttls_is_offered_and_recorded(tmp_path: Path) -> None:
    client_tls = ssl.create_default_context()
    client_tls.check_hostname = False
    client_tls.verify_mode = ssl.CERT_NONE
    with SmtpSink(tls_context=self_signed_context(tmp_path)) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=client_tls)
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        assert sink.wait_for(2)
        assert [m.tls for m in sink.messages] == [True, False]


def test_auth_login_is_recorded() -> None:
    with SmtpSink(credentials=("relay", "s3cret")) as sink:
        with _client(sink) as client:
            client.login("relay", "s3cret")
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        with _client(sink) as client, pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("relay", "wrong")
        assert sink.wait_for(1)
        assert sink.messages[0].auth_user == "relay"


def test_count_only_keeps_no_bodies() -> None:
    with SmtpSink(count_only=True) as sink, _client(sink) as client:
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        assert sink.wait_for(1)
        assert sink.count == 1
        assert sink.messages == []
        assert sink.first_and_last is not None


def test_clear_forgets_messages_and_scripts(sink: SmtpSink) -> None:
    sink.script_rcpt("x@example.com", 550)
    sink.clear()
    with _client(sink) as client:
        client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
    assert sink.wait_for(1)


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        (451, "451 4.0.0 scripted transient failure"),
        ("250 OK", "250 OK"),
        (SMTPReply(550, "5.1.1 no such user"), "550 5.1.1 no such user"),
    ],
)
def test_reply_line_accepts_codes_lines_and_replies(
    reply: int | str | SMTPReply, line: str
) -> None:
    assert reply_line(reply) == line


def test_reply_line_refuses_what_is_not_a_reply() -> None:
    with pytest.raises(ValueError):
        reply_line("hello")


def test_runs_as_a_separate_process_and_counts() -> None:
    command = [sys.executable, "-m", "misiva.testing.smtp_sink", "--count-only"]
    command += ["--expect", "2", "--max-seconds", "30"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        assert first[0] == "listening"
        host, _, port = first[1].rpartition(":")
        with smtplib.SMTP(host, int(port), timeout=5) as client:
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
            client.sendmail("a@example.org", ["x@example.com"], MESSAGE)
        rest = process.stdout.read()
        assert process.wait(timeout=30) == 0
    assert "received 2 sessions 1" in rest
