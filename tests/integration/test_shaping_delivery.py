"""Sending shaped per receiving provider, against a real SMTP sink and real DNS answers: a
provider answering 421 slows only its own mail, and its limit climbs back once it is quiet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from builders import Tenant
from misiva.config import Settings
from misiva.delivery.shaping import OTHER, ProviderLimits, Shaper, ShapingConfig
from misiva.delivery.smtp_client import SmtpClientPool
from misiva.delivery.transports import MxTransport
from misiva.dns.resolver import Resolver
from misiva.domain.delivery import RecipientOutcome, Route
from misiva.domain.enums import RouteKind
from misiva.domain.smtp import ReplyClass
from misiva.runtime.wiring import build_platform
from misiva.storage import messages as message_store
from misiva.testing.dns_server import DnsServer
from misiva.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.timeout(60)

MX = Route(pattern="*", kind=RouteKind.MX)
MESSAGE = b"From: shop@shop.test\r\nSubject: Hola\r\n\r\nHola\r\n"
THROTTLE = "421 4.7.28 Our system has detected an unusual rate of unsolicited mail"
GOOGLE = ProviderLimits(rate=40, concurrency=8, min_rate=2, min_concurrency=1)


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        # gmail.test is hosted by Google (as a Workspace domain is); corp.test by itself.
        server.add("gmail.test", "MX", "5 gmail-smtp-in.l.google.com.")
        server.add("gmail-smtp-in.l.google.com", "A", "127.0.0.1")
        server.add("corp.test", "MX", "10 mx.corp.test.")
        server.add("mx.corp.test", "A", "127.0.0.1")
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
async def pool() -> AsyncIterator[SmtpClientPool]:
    created = SmtpClientPool("misiva.test", max_per_destination=40)
    yield created
    await created.close()


async def _send_all(transport: MxTransport, recipients: list[str]) -> list[RecipientOutcome]:
    async def one(recipient: str) -> RecipientOutcome:
        result = await transport.deliver(MX, "shop@shop.test", [recipient], lambda: MESSAGE)
        return result.outcomes[0]

    return list(await asyncio.gather(*(one(r) for r in recipients)))


async def test_a_provider_answering_421_slows_only_its_own_mail_and_recovers(
    dns: DnsServer, sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_domain("gmail.test", THROTTLE)
    other = ProviderLimits(rate=1000, concurrency=40)
    config = ShapingConfig(
        limits={"google": GOOGLE, OTHER: other}, max_wait_seconds=0.2, quiet_seconds=0.5
    )
    shaper = Shaper(config)
    transport = MxTransport(pool, Resolver(dns.address), sink.port, shaper=shaper)
    gmail = [f"user{n}@gmail.test" for n in range(40)]
    corp = [f"user{n}@corp.test" for n in range(40)]

    began = time.monotonic()
    outcomes = await _send_all(transport, gmail + corp)
    elapsed = time.monotonic() - began
    to_gmail, to_corp = outcomes[:40], outcomes[40:]

    # corp.test's mail all went, at once, untouched by Google's refusals.
    assert all(o.reply.code == 250 and o.held_seconds is None for o in to_corp)
    assert sink.rcpt_count("corp.test") == 40 and elapsed < 5
    assert shaper.limits("other:corp.test") == (1000, 40)
    # Google's first replies were 421s: recorded as deferrals with its words; then its limit
    # was halved and most of its mail was held back instead of being offered again.
    refused = [o for o in to_gmail if o.held_seconds is None]
    held = [o for o in to_gmail if o.held_seconds is not None]
    assert refused and all(str(o.reply) == THROTTLE for o in refused)
    assert len(held) >= 20 and all(o.held_seconds >= 1.0 for o in held)  # type: ignore[operator]
    assert sink.rcpt_count("gmail.test") == len(refused) < 40
    rate, concurrency = shaper.limits("google")
    assert rate < GOOGLE.rate and concurrency < GOOGLE.concurrency

    # Google stops refusing: its mail goes again, and after quiet periods its limit is back.
    sink.script_domain("gmail.test", 250)
    pending = gmail
    deadline = time.monotonic() + 20
    while pending and time.monotonic() < deadline:
        results = await _send_all(transport, pending)
        assert all(o.reply_class is not ReplyClass.PERMANENT for o in results)
        pending = [o.recipient for o in results if o.reply.code != 250]
        if pending:
            await asyncio.sleep(0.3)
    assert not pending, f"{len(pending)} messages to gmail.test never went"
    assert sink.wait_for(80, timeout=5)
    while shaper.limits("google") != (GOOGLE.rate, GOOGLE.concurrency):
        assert time.monotonic() < deadline, f"limit stuck at {shaper.limits('google')}"
        await asyncio.sleep(0.1)


async def test_a_421_is_a_deferral_in_the_timeline_and_held_mail_is_no_attempt(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str, dns: DnsServer, sink: SmtpSink
) -> None:
    sink.script_domain("gmail.test", THROTTLE)
    sent = {}
    for to in [f"user{n}@gmail.test" for n in range(12)] + ["ana@corp.test", "bob@corp.test"]:
        body = {"From": "hola@shop.test", "To": to, "Subject": "Hola", "TextBody": "Hola"}
        sent[to] = (await api.post("/email", json=body)).json()["MessageID"]
    settings = Settings(
        database_url=database_url,
        routes="*=mx",
        dns_nameserver=dns.address,
        mx_port=sink.port,
        mta_sts=False,
        retry_first_seconds=1.0,
        shaping_limits={"google": {"rate": 4, "concurrency": 2, "min_rate": 1}},
        shaping_max_wait_seconds=0.1,
        shaping_quiet_seconds=0.5,
    )
    platform = build_platform(settings)
    try:
        worker = platform.new_worker()
        assert await worker.run_once() == 14
        async with platform.db.reading() as tx:
            stored = await message_store.get_messages(tx, list(sent.values()))
        by_status: dict[str, list[str]] = {}
        for to, message_id in sent.items():
            by_status.setdefault(stored[message_id].status.value, []).append(to)
        assert sorted(by_status["delivered"]) == ["ana@corp.test", "bob@corp.test"]
        # The throttled ones are deferred with Google's reply; the held ones were never
        # offered: still queued, no attempt counted, nothing in their timeline.
        assert by_status["deferred"] and by_status["queued"]
        deferred = await api.get(f"/messages/outbound/{sent[by_status['deferred'][0]]}/details")
        events = deferred.json()["MessageEvents"]
        assert events[-1]["Type"] == "Transient"
        assert THROTTLE in events[-1]["Details"]["DeliveryMessage"]
        held = stored[sent[by_status["queued"][0]]]
        assert held.attempts == 0 and held.next_attempt_at > held.accepted_at

        sink.script_domain("gmail.test", 250)
        deadline = time.monotonic() + 30
        while sink.count < 14 and time.monotonic() < deadline:
            await worker.run_once()
            await asyncio.sleep(0.2)
        assert sink.count == 14
    finally:
        await platform.close()
