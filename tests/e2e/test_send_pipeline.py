"""The whole pipeline with real parts: CLI, `misiva serve`, postmarker, an SMTP sink, dkimpy."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable

import dkim
import httpx
import pytest
from postmarker.core import PostmarkClient

from harness import Misiva
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow


def _relay(sink: SmtpSink) -> str:
    return f"*=smtp://127.0.0.1:{sink.port}?tls=none"


def _verify_dkim(data: bytes, txt_value: str) -> bool:
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return txt_value.encode()

    return bool(dkim.verify(data, dnsfunc=dnsfunc))


def test_postmarker_send_is_delivered_dkim_signed(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory(routes=_relay(sink))
    token, dkim_txt = misiva.setup_tenant()
    misiva.serve()
    client = PostmarkClient(server_token=token, root_api_url=f"{misiva.url}/")
    response = client.emails.send(
        From="Tienda <hola@shop.test>",
        To="Ana Pérez <ana@example.com>",
        Subject="Tu pedido ✓",
        HtmlBody="<p>Gracias por tu compra</p>",
        TextBody="Gracias por tu compra",
        Metadata={"order": "42"},
    )
    assert response["ErrorCode"] == 0 and response["Message"] == "OK"
    assert sink.wait_for(1, timeout=15)
    [received] = sink.messages
    assert received.rcpt_tos == ("ana@example.com",)
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed["Subject"] == "Tu pedido ✓"
    assert parsed["Message-ID"] == f"<{response['MessageID']}@shop.test>"
    assert _verify_dkim(received.data, dkim_txt)
    details = misiva.wait_for_event(token, response["MessageID"], "Delivered")
    delivered = next(e for e in details["MessageEvents"] if e["Type"] == "Delivered")
    assert delivered["Details"]["DeliveryMessage"].startswith("smtp;250")
    assert details["Metadata"] == {"order": "42"} and details["Status"] == "Sent"


def test_550_from_the_sink_shows_as_a_bounce_and_others_still_deliver(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    sink.script_rcpt("gone@example.com", "550 5.1.1 <gone@example.com>: no such user")
    misiva = misiva_factory(routes=_relay(sink))
    token, _ = misiva.setup_tenant()
    misiva.serve()
    client = PostmarkClient(server_token=token, root_api_url=f"{misiva.url}/")
    response = client.emails.send(
        From="hola@shop.test",
        To="ana@example.com, gone@example.com, bea@example.com",
        Subject="Hi",
        TextBody="Hi",
    )
    details = misiva.wait_for_event(token, response["MessageID"], "Bounced")
    by_type = {(e["Type"], e["Recipient"]) for e in details["MessageEvents"]}
    assert ("Bounced", "gone@example.com") in by_type
    assert ("Delivered", "ana@example.com") in by_type
    assert ("Delivered", "bea@example.com") in by_type
    bounce = next(e for e in details["MessageEvents"] if e["Type"] == "Bounced")
    assert "550 5.1.1" in bounce["Details"]["DeliveryMessage"]
    assert sink.messages[0].rcpt_tos == ("ana@example.com", "bea@example.com")


def test_451_is_retried_with_backoff_then_delivered(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    sink.script_rcpt("ana@example.com", "451 4.7.1 greylisted, try again later", "250 OK")
    misiva = misiva_factory(routes=_relay(sink), retry_first_seconds="0.5")
    token, _ = misiva.setup_tenant()
    misiva.serve()
    client = PostmarkClient(server_token=token, root_api_url=f"{misiva.url}/")
    response = client.emails.send(
        From="hola@shop.test", To="ana@example.com", Subject="Hi", TextBody="Hi"
    )
    details = misiva.wait_for_event(token, response["MessageID"], "Delivered")
    types = [e["Type"] for e in details["MessageEvents"]]
    assert types == ["Queued", "Transient", "Delivered"]
    assert "451 4.7.1" in details["MessageEvents"][1]["Details"]["DeliveryMessage"]
    assert len(sink.messages) == 1


def test_default_route_keeps_mail_in_the_capture_inbox(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva = misiva_factory()
    token, dkim_txt = misiva.setup_tenant()
    misiva.serve()
    message_id = misiva.cli(
        "send",
        "--server",
        "shop",
        "--from",
        "hola@shop.test",
        "--to",
        "ana@example.com",
        "--subject",
        "Captured",
        "--text",
        "Hola",
    ).stdout.strip()
    misiva.wait_for_event(token, message_id, "Delivered")
    headers = {"X-Postmark-Server-Token": token}
    listing = httpx.get(f"{misiva.url}/capture/messages", headers=headers, timeout=5).json()
    assert [m["MessageID"] for m in listing["Messages"]] == [message_id]
    raw = httpx.get(f"{misiva.url}/capture/messages/{message_id}", headers=headers, timeout=5)
    assert _verify_dkim(raw.json()["Body"].encode(), dkim_txt)
    assert message_id in misiva.cli("inbox", "list").stdout
    assert sink.count == 0


def test_serve_refuses_an_unmigrated_database(
    misiva_factory: Callable[..., Misiva], tmp_path: object
) -> None:
    misiva = misiva_factory()
    misiva.env["MISIVA_DATABASE_URL"] = f"sqlite:///{misiva.workdir}/empty.db"
    result = misiva.cli("serve", check=False)
    assert result.returncode == 1
    assert "misiva db upgrade" in result.stderr and "Traceback" not in result.stderr
