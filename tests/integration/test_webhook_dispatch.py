"""Webhooks from the outbox: signed, retried after refusals, each event once, in order."""

from __future__ import annotations

from collections import Counter

import httpx

from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.webhook_receiver import WebhookReceiver
from misiva.webhooks.dispatcher import DispatchConfig, WebhookDispatcher
from misiva.webhooks.signing import verify

ALL = {
    name: {"Enabled": True}
    for name in ("Delivery", "Bounce", "SpamComplaint", "Open", "Click", "SubscriptionChange")
}


async def test_refused_posts_are_retried_and_every_event_arrives_once_in_order(
    api: httpx.AsyncClient, platform: Platform, database_url: str
) -> None:
    with WebhookReceiver() as receiver, SmtpSink() as sink:
        hook = (
            await api.post(
                "/webhooks",
                json={
                    "Url": receiver.url,
                    "Triggers": ALL,
                    "HttpAuth": {"Username": "u", "Password": "p"},
                },
            )
        ).json()
        assert hook["Secret"].startswith("whsec_")
        sink.script_rcpt("gone@example.com", "550 5.1.1 user unknown")
        sent = []
        for to in ("ana@example.com", "gone@example.com", "bea@example.com, gone2@example.com"):
            sent.append(
                (
                    await api.post(
                        "/email",
                        json={"From": "hola@shop.test", "To": to, "TextBody": "x", "Tag": "t"},
                    )
                ).json()
            )
        relay = build_platform(
            Settings(database_url=database_url, routes=f"*=smtp://127.0.0.1:{sink.port}")
        )
        try:
            await relay.new_worker().run_once()
        finally:
            await relay.close()
        receiver.refuse(4)
        dispatcher = WebhookDispatcher(
            platform.db, DispatchConfig(first_retry_seconds=0, allow_private_targets=True)
        )
        try:
            for _ in range(20):
                if not await dispatcher.run_once() and receiver.refused >= 4:
                    break
        finally:
            await dispatcher.close()
    posts = receiver.accepted
    ids = Counter(p.headers["webhook-id"] for p in posts)
    assert receiver.refused == 4 and max(ids.values()) == 1
    kinds = Counter(p.json["RecordType"] for p in posts)
    assert kinds == {"Delivery": 3, "Bounce": 1, "SubscriptionChange": 1}
    assert all(verify(hook["Secret"], p.headers, p.body) for p in posts)
    assert all(p.headers["authorization"] == "Basic dTpw" for p in posts)
    gone = [p.json["RecordType"] for p in posts if p.json.get("MessageID") == sent[1]["MessageID"]]
    assert gone == ["Bounce", "SubscriptionChange"]
    bounce = next(p.json for p in posts if p.json["RecordType"] == "Bounce")
    assert bounce["Email"] == "gone@example.com" and bounce["Type"] == "HardBounce"
    assert bounce["Tag"] == "t" and bounce["Inactive"] is True
    log = (await api.get("/webhooks/deliveries/log")).json()["Deliveries"]
    assert sum(len(d["Attempts"]) for d in log) == len(posts) + 4
