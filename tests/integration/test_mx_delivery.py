"""MX delivery with real DNS answers from a local server and a real STARTTLS-capable sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from builders import Tenant
from misiva.config import Settings
from misiva.runtime.wiring import build_platform
from misiva.testing.dns_server import DnsServer
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.tls import self_signed_context


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


async def _deliver(
    api: httpx.AsyncClient, database_url: str, dns: DnsServer, port: int, to: str
) -> dict[str, object]:
    sent = (
        await api.post(
            "/email", json={"From": "hola@shop.test", "To": to, "Subject": "MX", "TextBody": "Hola"}
        )
    ).json()
    platform = build_platform(
        Settings(database_url=database_url, routes="*=mx", dns_nameserver=dns.address, mx_port=port)
    )
    try:
        assert await platform.new_worker().run_once() == 1
    finally:
        await platform.close()
    details: dict[str, object] = (
        await api.get(f"/messages/outbound/{sent['MessageID']}/details")
    ).json()
    return details


async def test_mx_lookup_falls_back_to_the_next_exchanger_and_uses_starttls(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str, dns: DnsServer, tmp_path: Path
) -> None:
    with SmtpSink(tls_context=self_signed_context(tmp_path)) as sink:
        # The preferred exchanger's address refuses connections; the backup takes the mail.
        dns.add("example.test", "MX", "10 mx1.example.test.", "20 mx2.example.test.")
        dns.add("mx1.example.test", "A", "127.0.0.2")
        dns.add("mx2.example.test", "A", "127.0.0.1")
        details = await _deliver(api, database_url, dns, sink.port, "ana@example.test")
        [received] = sink.messages
    assert received.tls, "STARTTLS was offered, so the message must travel encrypted"
    delivered = [e for e in details["MessageEvents"] if e["Type"] == "Delivered"]  # type: ignore[union-attr]
    assert delivered[0]["Details"]["DestinationServer"] == "mx2.example.test (127.0.0.1)"


async def test_a_domain_that_does_not_exist_is_a_hard_bounce(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str, dns: DnsServer
) -> None:
    dns.add("example.test", "MX", "10 mx1.example.test.")
    details = await _deliver(api, database_url, dns, 2525, "ana@nowhere.test")
    [bounce] = [e for e in details["MessageEvents"] if e["Type"] == "Bounced"]  # type: ignore[union-attr]
    assert "5.1.2" in bounce["Details"]["DeliveryMessage"]
