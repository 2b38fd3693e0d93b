"""Double opt-in to one-click unsubscribe, end to end: `misiva serve`, an SMTP sink, a webhook
receiver, real HTTP clients following the links from the delivered messages, dkimpy."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import dkim
import httpx
import pytest

from harness import Misiva, free_port, wait_until
from misiva.testing.smtp_sink import ReceivedMessage, SmtpSink
from misiva.testing.webhook_receiver import WebhookReceiver
from misiva.webhooks.signing import verify

pytestmark = pytest.mark.slow
BROADCAST = {
    "From": "Olivar <hola@shop.test>",
    "Subject": "Nuestra oferta de diciembre",
    "HtmlBody": "<html><body><p>Aceite nuevo</p></body></html>",
    "TextBody": "Aceite nuevo",
    "MessageStream": "broadcast",
}


def _parsed(received: ReceivedMessage) -> EmailMessage:
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def _changes(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [p.json for p in receiver.accepted if p.json["RecordType"] == "SubscriptionChange"]


def _installation(factory: Callable[..., Misiva], sink: SmtpSink) -> tuple[Misiva, int]:
    """Delivering to the sink, with a bounce domain (for the mailto) and quick webhooks."""
    bounce_port = free_port()
    misiva = factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        bounce_domain="bounces.shop.test",
        bounce_addr=f"127.0.0.1:{bounce_port}",
        webhook_first_retry_seconds="0.2",
        webhook_poll_seconds="0.2",
    )
    return misiva, bounce_port


def test_double_opt_in_then_one_click_unsubscribe_and_its_confirmation(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva, _ = _installation(misiva_factory, sink)
    token, dkim_txt = misiva.setup_tenant()
    misiva.cli("templates", "install-starter", "--server", "shop")
    misiva.serve()
    headers = {"X-Postmark-Server-Token": token, "Accept": "application/json"}
    with WebhookReceiver() as receiver, httpx.Client(base_url=misiva.url, headers=headers) as api:
        stream = api.patch(
            "/message-streams/broadcast",
            json={"Subscriptions": {"From": "Olivar <hola@shop.test>"}},
        )
        assert stream.status_code == 200, stream.text
        hook = api.post(
            "/webhooks",
            json={
                "Url": receiver.url,
                "MessageStream": "broadcast",
                "Triggers": {"SubscriptionChange": {"Enabled": True}},
            },
        ).json()

        # 1. Double opt-in: the request is pending and its confirmation email is delivered.
        asked = api.post(
            "/subscriptions",
            json={
                "Email": "ana@example.com",
                "MessageStream": "broadcast",
                "Source": "footer form",
                "IpAddress": "203.0.113.7",
                "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                "Contact": {"FirstName": "Ana", "Locale": "es"},
            },
        )
        assert asked.status_code == 200, asked.text
        assert asked.json()["Status"] == "Pending"
        early = api.post("/email", json={**BROADCAST, "To": "ana@example.com"})
        assert early.status_code == 422 and early.json()["ErrorCode"] == 406
        assert sink.wait_for(1, timeout=15)
        confirmation = _parsed(sink.messages[0])
        assert confirmation["To"] == "ana@example.com"
        assert "Confirma" in confirmation["Subject"]
        link = re.search(r"http://\S+/subscriptions/confirm/\S+", _text(confirmation))
        assert link is not None

        # An altered link is refused with a page and changes nothing.
        altered = link.group(0)[:-4] + ("AAAA" if not link.group(0).endswith("AAAA") else "BBBB")
        refused = httpx.get(altered)
        assert refused.status_code == 404 and "<h1" in refused.text
        assert api.post("/email", json={**BROADCAST, "To": "ana@example.com"}).status_code == 422

        # 2. The link followed with a real HTTP client confirms; a signed webhook says so.
        confirmed = httpx.get(link.group(0), headers={"User-Agent": "Mozilla/5.0 Firefox/133.0"})
        assert confirmed.status_code == 200 and 'lang="es"' in confirmed.text
        assert wait_until(lambda: any(not c["SuppressSending"] for c in _changes(receiver)))
        joined = _changes(receiver)[0]
        assert joined["Recipient"] == "ana@example.com" and joined["MessageStream"] == "broadcast"
        assert joined["SuppressionReason"] is None
        assert all(verify(hook["Secret"], p.headers, p.body) for p in receiver.accepted)
        profile = api.get("/contacts/ana@example.com/subscriptions").json()
        [subscription] = profile["Subscriptions"]
        assert subscription["Status"] == "Confirmed"
        actions = [r["Action"] for r in profile["ConsentHistory"]]
        assert actions == ["requested", "confirmation_sent", "confirmed"]
        requested, sent, yes = profile["ConsentHistory"]
        assert requested["IpAddress"] == "203.0.113.7" and requested["Source"] == "footer form"
        assert sent["MessageID"] == asked.json()["ConfirmationMessageID"] or sent["MessageID"]
        assert "Confirma" in sent["Evidence"] and sent["TemplateVersion"] == 1
        assert yes["IpAddress"] == "127.0.0.1" and "Firefox" in yes["UserAgent"]

        # 3. A broadcast now goes out, with one-click unsubscribe headers inside its signature.
        sent_broadcast = api.post("/email", json={**BROADCAST, "To": "ana@example.com"})
        assert sent_broadcast.status_code == 200, sent_broadcast.text
        broadcast_id = sent_broadcast.json()["MessageID"]
        assert sink.wait_for(2, timeout=15)
        raw = sink.messages[1].data
        broadcast = _parsed(sink.messages[1])
        assert broadcast["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        targets = re.findall(r"<([^>]+)>", str(broadcast["List-Unsubscribe"]))
        url = next(t for t in targets if t.startswith("http"))
        mailto = next(t for t in targets if t.startswith("mailto:"))
        assert mailto.startswith(f"mailto:u+{broadcast_id}@bounces.shop.test")
        signature = str(broadcast["DKIM-Signature"])
        signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", ""))
        assert signed is not None
        assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(
            signed.group(1).lower().split(":")
        )
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dkim_txt.encode())

        # 4. RFC 8058's one-click POST unsubscribes at once; the confirmation email arrives.
        page = httpx.get(url)
        assert page.status_code == 200 and 'name="List-Unsubscribe"' in page.text
        clicked = httpx.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert clicked.status_code == 200
        assert sink.wait_for(3, timeout=15)
        goodbye = _parsed(sink.messages[2])
        assert goodbye["To"] == "ana@example.com" and "baja" in goodbye["Subject"]
        assert "List-Unsubscribe" not in goodbye
        assert wait_until(lambda: any(c["SuppressSending"] for c in _changes(receiver)))
        left = next(c for c in _changes(receiver) if c["SuppressSending"])
        assert left["MessageID"] == broadcast_id
        assert left["SuppressionReason"] == "ManualSuppression" and left["Origin"] == "Recipient"
        again = httpx.post(url, content=b"List-Unsubscribe=One-Click")
        assert again.status_code == 200

        # 5. The next broadcast is refused with 406; a transactional send still goes out.
        refused_broadcast = api.post("/email", json={**BROADCAST, "To": "ana@example.com"})
        assert refused_broadcast.status_code == 422
        assert refused_broadcast.json()["ErrorCode"] == 406
        assert "ana@example.com" in refused_broadcast.json()["Message"]
        receipt = api.post(
            "/email",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "Subject": "Tu pedido",
                "TextBody": "Gracias por tu pedido",
            },
        )
        assert receipt.status_code == 200, receipt.text
        assert sink.wait_for(4, timeout=15)
        assert _parsed(sink.messages[3])["Subject"] == "Tu pedido"
        assert len([c for c in _changes(receiver) if c["SuppressSending"]]) == 1

    # 6. The contact's profile shows it all, from the CLI too.
    shown = misiva.cli("contacts", "show", "ana@example.com", "--server", "shop").stdout
    assert re.search(r"broadcast\s+unsubscribed\s+suppressed \(ManualSuppression\)", shown)
    assert "203.0.113.7 footer form" in shown and "one-click" in shown
    as_json = misiva.cli_json("contacts", "show", "ana@example.com", "--server", "shop")
    assert as_json["Profile"]["first_name"] == "Ana"
    assert [r["Action"] for r in as_json["ConsentHistory"]] == [
        "requested",
        "confirmation_sent",
        "confirmed",
        "unsubscribed",
    ]
    unknown = misiva.cli("contacts", "show", "nobody@example.com", "--server", "shop", check=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("misiva: no contact or subscription for nobody@example.com")


def test_unsubscribe_by_mail_to_the_mailto_address(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    misiva, bounce_port = _installation(misiva_factory, sink)
    token, _ = misiva.setup_tenant()
    misiva.serve()
    headers = {"X-Postmark-Server-Token": token, "Accept": "application/json"}
    with httpx.Client(base_url=misiva.url, headers=headers) as api:
        # A stream of announcements that asks no opt-in but handles unsubscribes.
        created = api.post(
            "/message-streams",
            json={
                "ID": "news",
                "Name": "News",
                "MessageStreamType": "Broadcasts",
                "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "Postmark"},
                "Subscriptions": {"RequireConfirmedOptIn": False},
            },
        )
        assert created.status_code == 200, created.text
        sent = api.post("/email", json={**BROADCAST, "MessageStream": "news", "To": "bea@ex.com"})
        assert sent.status_code == 200, sent.text
        assert sink.wait_for(1, timeout=15)
        mailto = re.search(r"<mailto:([^?>]+)", str(_parsed(sink.messages[0])["List-Unsubscribe"]))
        assert mailto is not None
        request = EmailMessage()
        request["From"] = "bea@ex.com"
        request["To"] = mailto.group(1)
        request["Subject"] = "unsubscribe"
        request.set_content("unsubscribe")
        with smtplib.SMTP("127.0.0.1", bounce_port, timeout=10) as client:
            client.send_message(request)
        assert wait_until(
            lambda: (
                api.post(
                    "/email", json={**BROADCAST, "MessageStream": "news", "To": "bea@ex.com"}
                ).status_code
                == 422
            )
        )
        dump = api.get("/message-streams/news/suppressions/dump").json()["Suppressions"]
        assert [(s["EmailAddress"], s["SuppressionReason"]) for s in dump] == [
            ("bea@ex.com", "ManualSuppression")
        ]
