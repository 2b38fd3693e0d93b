"""MTA-STS over MX (RFC 8461) with no internet: the `_mta-sts` TXT record from the local DNS
server, the policy from a local HTTPS server, certificates from a test CA."""

from __future__ import annotations

import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from builders import Tenant
from misiva.config import Settings
from misiva.delivery.mta_sts import MtaSts, StsMode
from misiva.delivery.smtp_client import SmtpClientPool
from misiva.delivery.transports import MxTransport
from misiva.dns.resolver import Resolver
from misiva.domain.delivery import RecipientOutcome, Route
from misiva.domain.enums import RouteKind
from misiva.runtime.wiring import build_platform
from misiva.storage import events as event_store
from misiva.testing.dns_server import DnsServer
from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.tls import TestCA

pytestmark = pytest.mark.timeout(60)

MX = Route(pattern="*", kind=RouteKind.MX)
MESSAGE = b"From: shop@shop.test\r\nSubject: Hola\r\n\r\nHola\r\n"


class PolicyServer:
    """HTTPS on localhost serving `/DOMAIN/.well-known/mta-sts.txt` from `policies`."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.policies: dict[str, str] = {}
        self.fetches: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                domain = self.path.strip("/").partition("/")[0]
                server.fetches.append(domain)
                body = server.policies.get(domain)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        port = self._http.server_address[1]
        self.url = f"https://localhost:{port}/{{domain}}/.well-known/mta-sts.txt"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _policy(mode: StsMode, *mx: str) -> str:
    lines = ["version: STSv1", f"mode: {mode.value}", *(f"mx: {m}" for m in mx), "max_age: 86400"]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


@pytest.fixture
def policies(ca: TestCA) -> Iterator[PolicyServer]:
    server = PolicyServer(ca.server_context("localhost"))
    yield server
    server.close()


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        server.add("secure.test", "MX", "10 mx.secure.test.")
        server.add("mx.secure.test", "A", "127.0.0.1")
        server.add("_mta-sts.secure.test", "TXT", '"v=STSv1; id=20261208T1100"')
        yield server


@pytest.fixture
async def pool(ca: TestCA) -> AsyncIterator[SmtpClientPool]:
    created = SmtpClientPool("misiva.test", ca_file=str(ca.ca_path))
    yield created
    await created.close()


async def _deliver(
    pool: SmtpClientPool, dns: DnsServer, ca: TestCA, policies: PolicyServer, port: int
) -> RecipientOutcome:
    resolver = Resolver(dns.address)
    sts = MtaSts(resolver, policy_url=policies.url, ca_file=str(ca.ca_path))
    try:
        transport = MxTransport(pool, resolver, port, mta_sts=sts)
        result = await transport.deliver(MX, "shop@shop.test", ["ana@secure.test"], lambda: MESSAGE)
    finally:
        await sts.close()
    [outcome] = result.outcomes
    return outcome


async def test_enforce_delivers_to_a_listed_mx_over_verified_tls(
    ca: TestCA, policies: PolicyServer, dns: DnsServer, pool: SmtpClientPool
) -> None:
    policies.policies["secure.test"] = _policy(StsMode.ENFORCE, "*.secure.test")
    with SmtpSink(tls_context=ca.server_context("mx.secure.test")) as sink:
        outcome = await _deliver(pool, dns, ca, policies, sink.port)
        assert outcome.reply.code == 250, outcome.reply
        [received] = sink.messages
    assert received.tls and policies.fetches == ["secure.test"]


async def test_enforce_refuses_an_mx_the_policy_does_not_name(
    ca: TestCA, policies: PolicyServer, dns: DnsServer, pool: SmtpClientPool
) -> None:
    policies.policies["secure.test"] = _policy(StsMode.ENFORCE, "mx.elsewhere.test")
    with SmtpSink(tls_context=ca.server_context("mx.secure.test")) as sink:
        outcome = await _deliver(pool, dns, ca, policies, sink.port)
        assert sink.sessions == 0
    assert outcome.reply.code == 451 and "4.7.5 MTA-STS" in outcome.reply.text


async def test_enforce_refuses_a_certificate_for_another_name(
    ca: TestCA, policies: PolicyServer, dns: DnsServer, pool: SmtpClientPool
) -> None:
    policies.policies["secure.test"] = _policy(StsMode.ENFORCE, "mx.secure.test")
    with SmtpSink(tls_context=ca.server_context("mx.impostor.test")) as sink:
        outcome = await _deliver(pool, dns, ca, policies, sink.port)
        assert sink.count == 0
    # Deferred (a transient 4.4.1), not bounced: the policy may be fixed, or the attacker gone.
    assert outcome.reply.code == 421 and "certificate" in outcome.reply.text.lower()


async def test_enforce_requires_starttls(
    ca: TestCA, policies: PolicyServer, dns: DnsServer, pool: SmtpClientPool
) -> None:
    policies.policies["secure.test"] = _policy(StsMode.ENFORCE, "mx.secure.test")
    with SmtpSink() as sink:
        outcome = await _deliver(pool, dns, ca, policies, sink.port)
        assert sink.count == 0
    assert outcome.reply.code == 421 and "STARTTLS" in outcome.reply.text


@pytest.mark.parametrize("mode", [StsMode.NONE, None])
async def test_mode_none_or_no_policy_delivers_as_before(
    mode: StsMode | None,
    ca: TestCA,
    policies: PolicyServer,
    dns: DnsServer,
    pool: SmtpClientPool,
) -> None:
    if mode is not None:
        policies.policies["secure.test"] = _policy(mode)
    # No STARTTLS at all on this sink, and a policy naming nobody: still delivered.
    with SmtpSink() as sink:
        outcome = await _deliver(pool, dns, ca, policies, sink.port)
        assert outcome.reply.code == 250 and sink.count == 1


async def test_testing_mode_delivers_and_notes_the_failure_in_the_timeline(
    api: httpx.AsyncClient,
    tenant: Tenant,
    database_url: str,
    ca: TestCA,
    policies: PolicyServer,
    dns: DnsServer,
) -> None:
    policies.policies["secure.test"] = _policy(StsMode.TESTING, "mx.elsewhere.test")
    body = {"From": "hola@shop.test", "To": "ana@secure.test", "Subject": "Hi", "TextBody": "Hi"}
    sent = (await api.post("/email", json=body)).json()
    with SmtpSink() as sink:
        settings = Settings(
            database_url=database_url,
            routes="*=mx",
            dns_nameserver=dns.address,
            mx_port=sink.port,
            mta_sts_policy_url=policies.url,
            mta_sts_ca_file=str(ca.ca_path),
        )
        platform = build_platform(settings)
        try:
            assert await platform.new_worker().run_once() == 1
            async with platform.db.reading() as tx:
                events = await event_store.list_events(tx, sent["MessageID"])
        finally:
            await platform.close()
        assert sink.count == 1
    delivered = events[-1]
    assert delivered.type.value == "delivered"
    assert delivered.details["note"] == "MTA-STS testing: mx.secure.test not in the policy"
