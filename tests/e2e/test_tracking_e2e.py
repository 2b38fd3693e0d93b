"""Opens, clicks and bounces end to end: real HTTP GETs, signed webhooks, suppression."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable

import httpx
import pytest

from harness import Misiva, wait_until
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.webhook_receiver import WebhookReceiver
from misiva.webhooks.signing import verify

pytestmark = pytest.mark.slow
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
TRIGGERS = {
    name: {"Enabled": True}
    for name in ("Delivery", "Bounce", "SpamComplaint", "Open", "Click", "SubscriptionChange")
}


def test_open_click_and_bounce_produce_events_signed_webhooks_and_suppression(
    misiva_factory: Callable[..., Misiva], sink: SmtpSink
) -> None:
    sink.script_rcpt("gone@example.com", "550 5.1.1 <gone@example.com>: no such user")
    misiva = misiva_factory(
        routes=f"*=smtp://127.0.0.1:{sink.port}?tls=none",
        webhook_first_retry_seconds="0.2",
        webhook_poll_seconds="0.2",
    )
    token, _ = misiva.setup_tenant()
    misiva.serve()
    headers = {"X-Postmark-Server-Token": token}
    with WebhookReceiver() as receiver, httpx.Client(base_url=misiva.url, headers=headers) as api:
        hook = api.post("/webhooks", json={"Url": receiver.url, "Triggers": TRIGGERS}).json()
        landing = f"{receiver.base}/landing?utm=1&x=2"
        escaped = landing.replace("&", "&amp;")
        sent = api.post(
            "/email",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "Subject": "Hola",
                "HtmlBody": f'<html><body><a href="{escaped}">Ver</a></body></html>',
                "TextBody": f"Ver: {landing}",
                "TrackOpens": True,
                "TrackLinks": "HtmlAndText",
            },
        ).json()
        assert sink.wait_for(1, timeout=15)
        html = email.message_from_bytes(sink.messages[0].data, policy=email.policy.default)
        body = html.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        pixel = re.search(r'<img src="([^"]+/t/o/[^"]+)"', body).group(1)  # type: ignore[union-attr]
        link = re.search(r'href="([^"]+/t/c/[^"]+)"', body).group(1)  # type: ignore[union-attr]
        opened = httpx.get(
            pixel,
            headers={"User-Agent": IPHONE_MAIL},
        )
        assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
        clicked = httpx.get(link, follow_redirects=True)
        assert clicked.status_code == 200 and receiver.visits == ["/landing?utm=1&x=2"]
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        assert httpx.get(forged).status_code == 404
        bounced = api.post(
            "/email", json={"From": "hola@shop.test", "To": "gone@example.com", "TextBody": "x"}
        ).json()
        assert wait_until(
            lambda: (
                {"Delivery", "Open", "Click", "Bounce", "SubscriptionChange"}
                <= {p.json["RecordType"] for p in receiver.accepted}
            )
        )
        assert all(verify(hook["Secret"], p.headers, p.body) for p in receiver.accepted)
        by_type = {p.json["RecordType"]: p.json for p in receiver.accepted}
        assert by_type["Open"]["MessageID"] == sent["MessageID"] and by_type["Open"]["FirstOpen"]
        assert by_type["Open"]["Platform"] == "Mobile"
        assert by_type["Click"]["OriginalLink"] == landing
        assert by_type["Bounce"]["MessageID"] == bounced["MessageID"]
        assert by_type["Bounce"]["Type"] == "HardBounce"
        again = api.post(
            "/email", json={"From": "hola@shop.test", "To": "gone@example.com", "TextBody": "x"}
        )
        assert again.status_code == 422 and again.json()["ErrorCode"] == 406
        details = api.get(f"/messages/outbound/{sent['MessageID']}/details").json()
        types = [e["Type"] for e in details["MessageEvents"]]
        assert {"Delivered", "Opened", "LinkClicked"} <= set(types)
