"""The delivery worker in-process: run_once against the capture route and a real SMTP sink."""

from __future__ import annotations

import email
import email.policy

import httpx

from builders import Tenant
from misiva.config import Settings
from misiva.mail.dkim import verify
from misiva.runtime.wiring import build_platform
from misiva.storage import capture as capture_store
from misiva.testing.smtp_sink import SmtpSink


async def test_run_once_delivers_signed_mail_to_a_relay_and_records_it(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    with SmtpSink() as sink:
        relay = build_platform(
            Settings(database_url=database_url, routes=f"*=smtp://127.0.0.1:{sink.port}")
        )
        try:
            sent = (
                await api.post(
                    "/email",
                    json={
                        "From": "hola@shop.test",
                        "To": "ana@example.com, Bea <bea@x.test>",
                        "Subject": "Pedido",
                        "TextBody": "Gracias",
                        "HtmlBody": "<p>Gracias</p>",
                    },
                )
            ).json()
            worker = relay.new_worker()
            assert await worker.run_once() == 1
            assert await worker.run_once() == 0
        finally:
            await relay.close()
    [received] = sink.messages
    assert set(received.rcpt_tos) == {"ana@example.com", "bea@x.test"}
    txt = {f"{tenant.domain.dkim_selector}._domainkey.shop.test": tenant.domain.dkim_public_txt}
    assert verify(received.data, txt)
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    details = (await api.get(f"/messages/outbound/{sent['MessageID']}/details")).json()
    assert details["Status"] == "Sent"
    assert [e["Type"] for e in details["MessageEvents"]] == ["Queued", "Delivered", "Delivered"]


async def test_capture_route_keeps_the_signed_message(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    try:
        sent = (
            await api.post(
                "/email",
                json={"From": "hola@shop.test", "To": "ana@example.com", "TextBody": "Hola"},
            )
        ).json()
        assert await platform.new_worker().run_once() == 1
        async with platform.db.transaction() as tx:
            [captured] = await capture_store.get_captured_for_message(tx, sent["MessageID"])
    finally:
        await platform.close()
    txt = {f"{tenant.domain.dkim_selector}._domainkey.shop.test": tenant.domain.dkim_public_txt}
    assert captured.mime.startswith(b"DKIM-Signature:") and verify(captured.mime, txt)
    listing = (await api.get("/capture/messages")).json()
    assert listing["TotalCount"] == 1 and listing["Messages"][0]["MessageID"] == sent["MessageID"]
