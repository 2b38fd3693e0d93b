"""DKIM key rotation with an injected clock, on SQLite and PostgreSQL: the new key signs only
once published and after the overlap, the old one retires after its period, and messages
signed by the new selector (and an Ed25519 one beside RSA) verify with dkimpy against keys
found in a real local DNS server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from builders import T0, Tenant
from misiva.accounts.domains import domain_keys, rotate_dkim
from misiva.dns.resolver import Resolver
from misiva.domain.dkim_keys import KeyAlgorithm, KeyState, RotationPolicy
from misiva.domain.dns_checks import RecordKind
from misiva.domain.errors import Conflict
from misiva.mail.dkim import signatures, verify_each
from misiva.mail.published import SendingSetup, records_to_publish
from misiva.runtime.wiring import Platform
from misiva.scheduler.dkim_rotation import DkimRotation
from misiva.scheduler.domain_checks import DomainChecker
from misiva.storage import capture as capture_store
from misiva.testing.dns_server import DnsServer

POLICY = RotationPolicy(overlap=timedelta(days=3), retire_after=timedelta(days=7))
SETUP = SendingSetup("mx.misiva.test", None, ("192.0.2.25",))


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


def publish_key(dns: DnsServer, selector: str, txt: str) -> None:
    value = " ".join(f'"{txt[i : i + 255]}"' for i in range(0, len(txt), 255))
    dns.add(f"{selector}._domainkey.shop.test", "TXT", value)


async def send_and_capture(api: httpx.AsyncClient, platform: Platform) -> bytes:
    sent = (
        await api.post(
            "/email",
            json={"From": "hola@shop.test", "To": "ana@example.com", "TextBody": "Hola"},
        )
    ).json()
    # A new worker: a running one re-reads a domain's keys within a minute (IDENTITY_SECONDS).
    assert await platform.new_worker().run_once() == 1
    async with platform.db.reading() as tx:
        [captured] = await capture_store.get_captured_for_message(tx, sent["MessageID"])
    return captured.mime


async def verified_through_dns(dns: DnsServer, signed: bytes) -> list[bool]:
    """dkimpy's verdict on each signature, with each key looked up in the local DNS."""
    resolver = Resolver(dns.address, 2.0, cache_size=0)
    txt = {}
    for domain, selector, _ in signatures(signed):
        name = f"{selector}._domainkey.{domain}"
        txt[name] = " ".join(await resolver.lookup(name, "TXT"))
    return verify_each(signed, txt)


async def test_a_rotation_publishes_then_signs_then_retires(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    old_selector = tenant.domain.dkim_selector
    publish_key(dns, old_selector, tenant.domain.dkim_public_txt)
    now = [T0]
    rotation = DkimRotation(
        platform.db, DomainChecker(dns.address, SETUP, 2.0, POLICY), clock=lambda: now[0]
    )
    new = await rotate_dkim(platform.db, tenant.domain, clock=lambda: T0)
    assert new.state is KeyState.PENDING and new.selector == "misiva20261122"
    with pytest.raises(Conflict):
        await rotate_dkim(platform.db, tenant.domain, clock=lambda: T0)
    # During the overlap both selectors are to be published; the old key still signs.
    keys = await domain_keys(platform.db, tenant.domain)
    dkim = [r for r in records_to_publish("shop.test", keys, SETUP) if r.kind is RecordKind.DKIM]
    assert [(r.name.split(".")[0], r.key_state) for r in dkim] == [
        (old_selector, KeyState.ACTIVE),
        (new.selector, KeyState.PENDING),
    ]
    assert signatures(await send_and_capture(api, platform))[0][1] == old_selector

    now[0] = T0 + timedelta(days=1)
    assert await rotation.run_once() == []
    # The overlap has passed, but the new key is not in the DNS: it must not sign yet.
    now[0] = T0 + timedelta(days=3)
    assert await rotation.run_once() == []
    publish_key(dns, new.selector, new.public_txt)
    steps = await rotation.run_once()
    assert [(s.key.selector, s.to) for s in steps] == [
        (new.selector, KeyState.ACTIVE),
        (old_selector, KeyState.RETIRING),
    ]
    signed = await send_and_capture(api, platform)
    assert [s[1] for s in signatures(signed)] == [new.selector]
    assert await verified_through_dns(dns, signed) == [True]

    now[0] = T0 + timedelta(days=9)
    assert await rotation.run_once() == []
    now[0] = T0 + timedelta(days=10)
    [retired] = await rotation.run_once()
    assert (retired.key.selector, retired.to) == (old_selector, KeyState.RETIRED)
    keys = await domain_keys(platform.db, tenant.domain)
    assert [(k.selector, k.state, k.retired_at) for k in keys] == [
        (old_selector, KeyState.RETIRED, now[0]),
        (new.selector, KeyState.ACTIVE, None),
    ]
    dkim = [r for r in records_to_publish("shop.test", keys, SETUP) if r.kind is RecordKind.DKIM]
    assert [r.name for r in dkim] == [f"{new.selector}._domainkey.shop.test"]


async def test_an_ed25519_key_signs_beside_rsa_and_both_signatures_verify(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    publish_key(dns, tenant.domain.dkim_selector, tenant.domain.dkim_public_txt)
    ed = await rotate_dkim(platform.db, tenant.domain, KeyAlgorithm.ED25519, clock=lambda: T0)
    assert ed.selector == "misiva20261122e"
    publish_key(dns, ed.selector, ed.public_txt)
    rotation = DkimRotation(
        platform.db,
        DomainChecker(dns.address, SETUP, 2.0, POLICY),
        clock=lambda: T0 + timedelta(days=3),
    )
    # RSA keeps signing: an Ed25519 key replaces only an Ed25519 one.
    assert [(s.key.selector, s.to) for s in await rotation.run_once()] == [
        (ed.selector, KeyState.ACTIVE)
    ]
    signed = await send_and_capture(api, platform)
    assert [(s, a) for _, s, a in signatures(signed)] == [
        (tenant.domain.dkim_selector, "rsa-sha256"),
        (ed.selector, "ed25519-sha256"),
    ]
    assert await verified_through_dns(dns, signed) == [True, True]
