"""SMTP submission end to end: `misiva serve`, real clients (smtplib with STARTTLS and AUTH,
Django's SMTP email backend), an SMTP sink receiving what they sent, DKIM-signed."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import smtplib
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import httpx
import pytest

from harness import Misiva, free_port, wait_until
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.tls import self_signed_files

pytestmark = pytest.mark.slow


class Submission:
    """One installation with its submission port, its TLS certificate and a tenant."""

    def __init__(
        self, misiva: Misiva, ports: tuple[int, int], cert: Path, token: str, dkim_txt: str
    ) -> None:
        self.misiva, self.cert, self.token, self.dkim_txt = misiva, cert, token, dkim_txt
        self.port, self.implicit_port = ports

    def client(self, *, login: bool = True) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=15)
        client.starttls(context=ssl.create_default_context(cafile=str(self.cert)))
        if login:
            client.login(self.token, self.token)
        return client

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.misiva.url,
            headers={"X-Postmark-Server-Token": self.token, "Accept": "application/json"},
        )


@pytest.fixture
def submission(misiva_factory: Callable[..., Misiva], sink: SmtpSink, tmp_path: Path) -> Submission:
    cert, key = self_signed_files(tmp_path / "tls")
    port, implicit_port = free_port(), free_port()
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        smtp_addr=f"127.0.0.1:{port}",
        smtps_addr=f"127.0.0.1:{implicit_port}",
        smtp_tls_cert=str(cert),
        smtp_tls_key=str(key),
        # As a client on another host would be: AUTH only after STARTTLS.
        smtp_loopback_plaintext_auth="false",
        smtp_auth_failures="3",
    )
    token, dkim_txt = misiva.setup_tenant()
    misiva.serve()
    return Submission(misiva, (port, implicit_port), cert, token, dkim_txt)


def _message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tienda <hola@shop.test>"
    message["To"] = "ana@example.com"
    message["Subject"] = "Tu pedido nº 1042"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Gracias por tu pedido: https://shop.test/pedidos/1042\n")
    message.add_alternative(
        '<p>Gracias por tu pedido: <a href="https://shop.test/pedidos/1042">ver</a></p>',
        subtype="html",
    )
    return message


def _send(client: smtplib.SMTP, message: EmailMessage, rcpts: list[str]) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA by hand, so the DATA reply (with the MessageID) is seen."""
    assert client.mail("hola@shop.test")[0] == 250
    for rcpt in rcpts:
        assert client.rcpt(rcpt)[0] == 250
    # smtplib sends bytes as they are: their lines must already end in CRLF.
    return client.data(message.as_bytes(policy=email.policy.SMTP))


def test_smtplib_starttls_auth_sends_with_x_pm_headers_applied_and_stripped(
    submission: Submission, sink: SmtpSink
) -> None:
    with submission.client() as client:
        ehlo = client.ehlo()[1].decode()
        assert "SIZE 10485760" in ehlo and "SMTPUTF8" in ehlo and "8BITMIME" in ehlo
        message = _message(
            X_PM_Tag="pedido",
            X_PM_Metadata_order="1042",
            X_PM_TrackLinks="HtmlAndText",
            X_PM_Message_Stream="outbound",
        )
        code, reply = _send(client, message, ["ana@example.com", "archivo@example.com"])
    assert code == 250 and reply.startswith(b"2.0.0 OK queued as ")
    message_id = reply.split()[-1].decode()
    assert wait_until(lambda: sink.count >= 1, timeout=15)
    received = sink.messages[0]
    assert sorted(received.rcpt_tos) == ["ana@example.com", "archivo@example.com"]
    delivered = email.message_from_bytes(received.data, policy=email.policy.default)
    assert not [name for name in delivered if name.lower().startswith("x-pm-")]
    assert "Bcc" not in delivered and "archivo@example.com" not in received.data.decode()
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: submission.dkim_txt.encode())
    assert b"/t/c/" in received.data  # TrackLinks from X-PM-TrackLinks
    with submission.api() as api:
        details = api.get(f"/messages/outbound/{message_id}/details").json()
    assert details["Tag"] == "pedido" and details["Metadata"] == {"order": "1042"}
    assert details["MessageStream"] == "outbound"


def test_the_implicit_tls_port_takes_auth_at_once(submission: Submission, sink: SmtpSink) -> None:
    context = ssl.create_default_context(cafile=str(submission.cert))
    with smtplib.SMTP_SSL("127.0.0.1", submission.implicit_port, context=context) as client:
        assert "STARTTLS" not in client.ehlo()[1].decode()
        client.login(submission.token, submission.token)
        code, _reply = _send(client, _message(), ["ana@example.com"])
    assert code == 250 and wait_until(lambda: sink.count >= 1, timeout=15)


def test_auth_is_refused_before_tls_and_with_a_wrong_token(submission: Submission) -> None:
    with smtplib.SMTP("127.0.0.1", submission.port, timeout=15) as plain:
        plain.ehlo()
        with pytest.raises(smtplib.SMTPException):
            plain.login(submission.token, submission.token)
        assert plain.mail("hola@shop.test")[0] == 530
    with submission.client(login=False) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            client.login("not-a-token", "not-a-token")
        assert wrong.value.smtp_code == 535 and wrong.value.smtp_error.startswith(b"5.7.8")
    # smtplib tries PLAIN, then LOGIN: two failures a login. The third locks the address
    # out, and then even the right token waits out the lockout.
    with submission.client(login=False) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as locked:
            client.login("not-a-token", "not-a-token")
        assert locked.value.smtp_code == 454
    with submission.client(login=False) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as still:
            client.login(submission.token, submission.token)
        assert still.value.smtp_code == 454


def test_size_foreign_from_bad_and_suppressed_recipients_get_clear_5xx(
    submission: Submission,
) -> None:
    with submission.api() as api:
        api.post(
            "/message-streams/outbound/suppressions",
            json={"Suppressions": [{"EmailAddress": "gone@example.com"}]},
        )
    with submission.client() as client:
        assert client.mail("hola@shop.test")[0] == 250
        code, text = client.rcpt("not an address")
        assert code in (501, 550, 553)
        code, text = client.rcpt("gone@example.com")
        assert code == 550 and text.startswith(b"5.7.1")
        client.rset()
        foreign = _message()
        del foreign["From"]
        foreign["From"] = "someone@elsewhere.test"
        code, text = _send(client, foreign, ["ana@example.com"])
        assert code == 550 and text.startswith(b"5.7.1") and b"elsewhere.test" in text
        big = _message()
        big.add_attachment(os.urandom(11 * 1024 * 1024), "application", "octet-stream")
        code, text = _send(client, big, ["ana@example.com"])
        assert code == 552
    with submission.client() as client:
        code, text = client.mail("hola@shop.test", ["SIZE=20000000"])
        assert code == 552


DJANGO_SENDER = textwrap.dedent(
    """
    import sys
    import django
    from django.conf import settings

    port, token = int(sys.argv[1]), sys.argv[2]
    settings.configure(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_HOST_USER=token,
        EMAIL_HOST_PASSWORD=token,
        EMAIL_USE_TLS=True,
        EMAIL_TIMEOUT=15,
    )
    django.setup()
    from django.core.mail import EmailMultiAlternatives

    mail = EmailMultiAlternatives(
        subject="Restablece tu contraseña",
        body="Abre este enlace: https://shop.test/reset/abc",
        from_email="Tienda <hola@shop.test>",
        to=["ana@example.com"],
        bcc=["auditoria@example.com"],
        headers={"X-PM-Tag": "password-reset", "X-PM-Metadata-user": "42"},
    )
    html = '<p><a href="https://shop.test/reset/abc">Restablecer</a></p>'
    mail.attach_alternative(html, "text/html")
    mail.attach("aviso.txt", "Aviso legal", "text/plain")
    print(mail.send())
    """
)


def test_djangos_smtp_backend_sends_through_starttls(
    submission: Submission, sink: SmtpSink, tmp_path: Path
) -> None:
    script = tmp_path / "send_with_django.py"
    script.write_text(DJANGO_SENDER)
    # Django verifies the server's certificate against the default CAs: trust ours there.
    env: dict[str, Any] = {**os.environ, "SSL_CERT_FILE": str(submission.cert)}
    sent = subprocess.run(
        [sys.executable, str(script), str(submission.port), submission.token],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0 and sent.stdout.strip() == "1", sent.stderr
    assert wait_until(lambda: sink.count >= 1, timeout=15)
    received = sink.messages[0]
    assert sorted(received.rcpt_tos) == ["ana@example.com", "auditoria@example.com"]
    delivered = email.message_from_bytes(received.data, policy=email.policy.default)
    assert delivered["Subject"] == "Restablece tu contraseña"
    assert not [name for name in delivered if name.lower().startswith("x-pm-")]
    assert [part.get_filename() for part in delivered.iter_attachments()] == ["aviso.txt"]
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: submission.dkim_txt.encode())
    with submission.api() as api:
        listed = api.get(
            "/messages/outbound", params={"count": 10, "offset": 0, "tag": "password-reset"}
        )
    [summary] = listed.json()["Messages"]
    assert summary["Metadata"] == {"user": "42"}


_MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)


def _received_ids(sink: SmtpSink) -> set[str]:
    return {m.group(1).decode() for r in sink.messages if (m := _MESSAGE_ID.search(r.data))}


def _send_many(port: int, token: str, total: int, accepted: list[str]) -> None:
    """`total` messages over one connection, AUTH from loopback without TLS (allowed there
    by default); each 250's MessageID goes into `accepted` as it comes."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.login(token, token)
        for n in range(total):
            message = EmailMessage()
            message["From"] = "hola@shop.test"
            message["To"] = f"user{n}@example.com"
            message["Subject"] = f"Pedido {n}"
            message.set_content(f"Pedido {n} confirmado")
            client.mail("hola@shop.test")
            client.rcpt(f"user{n}@example.com")
            code, reply = client.data(message.as_bytes(policy=email.policy.SMTP))
            assert code == 250, reply
            accepted.append(reply.split()[-1].decode())


def test_a_thousand_messages_over_one_connection_are_all_delivered(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    port = free_port()
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none", smtp_addr=f"127.0.0.1:{port}"
    )
    token, _ = misiva.setup_tenant()
    misiva.serve()
    accepted: list[str] = []
    _send_many(port, token, 1000, accepted)
    assert len(accepted) == len(set(accepted)) == 1000
    assert wait_until(lambda: set(accepted) <= _received_ids(sink), timeout=120)


def test_kill_9_during_an_smtp_run_loses_no_message_that_got_250(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    port = free_port()
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        smtp_addr=f"127.0.0.1:{port}",
        lease_seconds="3",
        # One process doing everything: the kill takes the submission server and delivery.
        processes="1",
    )
    token, _ = misiva.setup_tenant()
    first = misiva.serve()
    accepted: list[str] = []
    sender = threading.Thread(target=_send_many_until_dropped, args=(port, token, accepted))
    sender.start()
    assert wait_until(lambda: len(accepted) >= 200, timeout=60)
    first.kill()
    first.wait()
    sender.join(timeout=30)
    assert not sender.is_alive()
    at_kill = len(accepted)
    assert 200 <= at_kill < 1000, "the kill landed after the run; send more"
    misiva.serve()
    assert wait_until(lambda: set(accepted) <= _received_ids(sink), timeout=120)


def _send_many_until_dropped(port: int, token: str, accepted: list[str]) -> None:
    """What a client sees when the server dies: the connection drops mid-run."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        _send_many(port, token, 1000, accepted)
