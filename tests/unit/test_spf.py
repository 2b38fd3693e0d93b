"""SPF evaluation (RFC 7208) against a real local DNS server: mechanisms, modifiers, macros
and the lookup limits, for the addresses a receiver would evaluate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from misiva.dns.resolver import Resolver
from misiva.dns.spf import SpfResult, check_host
from misiva.testing.dns_server import DnsServer


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


def resolver(dns: DnsServer) -> Resolver:
    return Resolver(dns.address, 2.0, cache_size=0)


@pytest.mark.parametrize(
    ("record", "ip", "expected"),
    [
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.7", SpfResult.PASS),
        ("v=spf1 ip4:192.0.2.0/24 -all", "198.51.100.1", SpfResult.FAIL),
        ("v=spf1 ip4:192.0.2.0/24 ~all", "198.51.100.1", SpfResult.SOFTFAIL),
        ("v=spf1 ip4:192.0.2.0/24", "198.51.100.1", SpfResult.NEUTRAL),
        ("v=spf1 ip6:2001:db8::/32 -all", "2001:db8::25", SpfResult.PASS),
        ("v=spf1 -ip4:192.0.2.7 +all", "192.0.2.7", SpfResult.FAIL),
        ("v=spf1 a -all", "192.0.2.10", SpfResult.PASS),
        ("v=spf1 a/24 -all", "192.0.2.99", SpfResult.PASS),
        ("v=spf1 mx -all", "192.0.2.20", SpfResult.PASS),
        ("v=spf1 a:mail.shop.test -all", "192.0.2.20", SpfResult.PASS),
        ("v=spf1 include:_spf.esp.test -all", "203.0.113.5", SpfResult.PASS),
        ("v=spf1 include:_spf.esp.test -all", "203.0.113.99", SpfResult.FAIL),
        ("v=spf1 redirect=_spf.esp.test", "203.0.113.5", SpfResult.PASS),
        ("v=spf1 exists:%{i}._ip.esp.test -all", "198.51.100.4", SpfResult.PASS),
        ("v=spf1 exists:%{ir}.rev.esp.test -all", "198.51.100.4", SpfResult.PASS),
        ("v=spf1 ip4:192.0.2.7 exp=explain.shop.test -all", "192.0.2.7", SpfResult.PASS),
        ("v=spf1 ip4:192.0.2.7 unknown-modifier=x -all", "192.0.2.7", SpfResult.PASS),
        ("v=spf1 bogus -all", "192.0.2.7", SpfResult.PERMERROR),
        ("v=spf1 include:nothing.test -all", "192.0.2.7", SpfResult.PERMERROR),
    ],
)
async def test_mechanisms_and_modifiers(
    dns: DnsServer, record: str, ip: str, expected: SpfResult
) -> None:
    dns.add("shop.test", "TXT", record)
    dns.add("shop.test", "A", "192.0.2.10")
    dns.add("shop.test", "MX", "10 mail.shop.test.")
    dns.add("mail.shop.test", "A", "192.0.2.20")
    dns.add("_spf.esp.test", "TXT", "v=spf1 ip4:203.0.113.0/28 -all")
    dns.add("198.51.100.4._ip.esp.test", "A", "127.0.0.2")
    dns.add("4.100.51.198.rev.esp.test", "A", "127.0.0.2")
    dns.add("nothing.test", "TXT", "not spf")
    verdict = await check_host(resolver(dns), ip, "shop.test")
    assert verdict.result is expected, verdict.reason


async def test_no_record_is_none_and_two_records_are_a_permerror(dns: DnsServer) -> None:
    dns.add("other.test", "A", "192.0.2.1")
    assert (await check_host(resolver(dns), "192.0.2.1", "other.test")).result is SpfResult.NONE
    dns.add("shop.test", "TXT", "v=spf1 a -all", "v=spf1 mx -all")
    verdict = await check_host(resolver(dns), "192.0.2.1", "shop.test")
    assert verdict.result is SpfResult.PERMERROR and "2 SPF records" in verdict.reason


async def test_more_than_ten_lookups_is_a_permerror_reported_as_such(dns: DnsServer) -> None:
    # A chain of includes, each costing a lookup: eleven of them before the address matches.
    for n in range(11):
        dns.add(f"l{n}.esp.test", "TXT", f"v=spf1 include:l{n + 1}.esp.test -all")
    dns.add("l11.esp.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    dns.add("shop.test", "TXT", "v=spf1 include:l0.esp.test -all")
    verdict = await check_host(resolver(dns), "192.0.2.1", "shop.test")
    assert verdict.result is SpfResult.PERMERROR
    assert "more than 10 DNS lookups" in verdict.reason and verdict.lookups == 11
    # Ten are allowed: the same chain one shorter passes.
    dns.remove("shop.test")
    dns.add("shop.test", "TXT", "v=spf1 include:l2.esp.test -all")
    verdict = await check_host(resolver(dns), "192.0.2.1", "shop.test")
    assert verdict.result is SpfResult.PASS and verdict.lookups == 10


async def test_more_than_two_void_lookups_is_a_permerror(dns: DnsServer) -> None:
    dns.add("shop.test", "TXT", "v=spf1 a:v1.test a:v2.test a:v3.test -all")
    verdict = await check_host(resolver(dns), "192.0.2.1", "shop.test")
    assert verdict.result is SpfResult.PERMERROR and "found nothing" in verdict.reason


async def test_walking_without_an_address_counts_every_lookup(dns: DnsServer) -> None:
    dns.add("shop.test", "TXT", "v=spf1 a mx include:_spf.esp.test ~all")
    dns.add("shop.test", "A", "192.0.2.10")
    dns.add("shop.test", "MX", "10 mail.shop.test.")
    dns.add("mail.shop.test", "A", "192.0.2.20")
    dns.add("_spf.esp.test", "TXT", "v=spf1 a:x.esp.test -all")
    dns.add("x.esp.test", "A", "203.0.113.1")
    verdict = await check_host(resolver(dns), None, "shop.test")
    assert verdict.result is SpfResult.SOFTFAIL and verdict.lookups == 4


async def test_a_server_failure_is_a_temperror(dns: DnsServer) -> None:
    dns.add("shop.test", "TXT", "v=spf1 include:_spf.esp.test -all")
    dns.fail("_spf.esp.test", "SERVFAIL")
    verdict = await check_host(resolver(dns), "192.0.2.1", "shop.test")
    assert verdict.result is SpfResult.TEMPERROR
