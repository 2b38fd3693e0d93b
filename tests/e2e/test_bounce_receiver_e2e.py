"""Returned mail over SMTP: a real MTA's DSN and ARF complaint reach the bounce receiver,
are tied to their message by its VERP return path, classified, and suppress the address."""

from __future__ import annotations

import os
import smtplib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import Misiva, free_port, wait_until
from misiva.testing.postfix import PostfixRelay, postfix_available
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-bounces"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _returned(sample: str, original: str, ours: str) -> bytes:
    """A real MTA's report, addressed about our recipient instead of the sample's."""
    return (SAMPLES / sample).read_bytes().replace(original.encode(), ours.encode())


def _send_back(port: int, rcpt: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [rcpt], data)


def _wait_bounces(
    api: httpx.Client, message_id: str, timeout: float = 15
) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: list[dict[str, object]] = api.get(
            "/bounces", params={"messageID": message_id}
        ).json()["Bounces"]
        if found:
            return found
        time.sleep(0.1)
    return []


def test_dsn_and_complaint_are_tied_to_their_message_classified_and_suppress(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    bounce_port = free_port()
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        bounce_domain="bounces.shop.test",
        bounce_addr=f"127.0.0.1:{bounce_port}",
    )
    token, _ = misiva.setup_tenant()
    misiva.serve()
    with httpx.Client(base_url=misiva.url, headers={"X-Postmark-Server-Token": token}) as api:
        first = api.post(
            "/email", json={"From": "hola@shop.test", "To": "ana@example.co.jp", "TextBody": "x"}
        ).json()["MessageID"]
        second = api.post(
            "/email", json={"From": "hola@shop.test", "To": "bea@example.jp", "TextBody": "y"}
        ).json()["MessageID"]
        assert sink.wait_for(2, timeout=15)
        return_paths = {m.mail_from for m in sink.messages}
        assert return_paths == {f"b+{first}@bounces.shop.test", f"b+{second}@bounces.shop.test"}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            _send_back(bounce_port, "postmaster@bounces.shop.test", b"Subject: x\r\n\r\nx\r\n")
        dsn = _returned(
            "sisimai-lhost-postfix-04.eml", "kijitora@example.co.jp", "ana@example.co.jp"
        )
        _send_back(bounce_port, f"b+{first}@bounces.shop.test", dsn)
        [bounce] = _wait_bounces(api, first)
        assert bounce["Type"] == "HardBounce" and bounce["Email"] == "ana@example.co.jp"
        assert bounce["Inactive"] is True and bounce["DumpAvailable"] is True
        assert "5.1.1" in str(bounce["Details"])
        dump = api.get(f"/bounces/{bounce['ID']}/dump").json()["Body"]
        assert "Undelivered Mail Returned to Sender" in dump
        again = api.post(
            "/email", json={"From": "hola@shop.test", "To": "ana@example.co.jp", "TextBody": "x"}
        )
        assert again.json()["ErrorCode"] == 406
        arf = (SAMPLES / "sisimai-arf-01.eml").read_bytes()
        _send_back(bounce_port, f"b+{second}@bounces.shop.test", arf)
        [complaint] = _wait_bounces(api, second)
        assert complaint["Type"] == "SpamComplaint" and complaint["CanActivate"] is False


def test_a_dsn_written_by_postfix_for_our_message_is_tied_to_it_and_classified(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    if not postfix_available():
        if IN_CI:
            pytest.fail("Postfix is required in CI (make test installs it)")
        pytest.skip("Postfix is not installed, or we are not root")
    bounce_port = free_port()
    sink.script_rcpt(
        "gone@example.test",
        "550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown",
    )
    transports = {
        "example.test": f"127.0.0.1:{sink.port}",
        "bounces.shop.test": f"127.0.0.1:{bounce_port}",
    }
    with PostfixRelay(transports) as postfix:
        misiva = misiva_factory(
            routes=f"*=smtp://127.0.0.1:{postfix.port}?tls=none",
            bounce_domain="bounces.shop.test",
            bounce_addr=f"127.0.0.1:{bounce_port}",
        )
        token, _ = misiva.setup_tenant()
        misiva.serve()
        with httpx.Client(base_url=misiva.url, headers={"X-Postmark-Server-Token": token}) as api:
            sent = api.post(
                "/email",
                json={
                    "From": "hola@shop.test",
                    "To": "gone@example.test",
                    "Subject": "Hola",
                    "TextBody": "x",
                },
            ).json()
            bounces = _wait_bounces(api, sent["MessageID"], timeout=40)
            assert bounces, f"no bounce recorded; postfix said:\n{postfix.log()}"
            [bounce] = bounces
            assert bounce["Type"] == "HardBounce" and bounce["Email"] == "gone@example.test"
            assert "5.1.1" in str(bounce["Details"])
            dump = api.get(f"/bounces/{bounce['ID']}/dump").json()["Body"]
            assert "mta.relay.test" in dump and "report-type=delivery-status" in dump

            # Postfix took the message (250), then its DSN reported the failure. Postfix can
            # write the DSN before the worker's recorder commits the 250, so the two events
            # may land in either order (seen under load); both must be there.
            def types() -> list[str]:
                details = api.get(f"/messages/outbound/{sent['MessageID']}/details").json()
                return [e["Type"] for e in details["MessageEvents"]]

            assert wait_until(lambda: {"Delivered", "Bounced"} <= set(types()), timeout=20)
            assert types()[0] == "Queued"
