"""MX and address lookups against a real local DNS server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from builders import FakeClock
from misiva.dns.resolver import DnsError, Resolver
from misiva.domain.errors import MisivaError, SetupError
from misiva.testing.dns_server import DnsServer


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer() as running:
        running.add("example.com", "MX", "20 mx2.example.com.", "10 mx1.example.com.", ttl=300)
        running.add("example.com", "MX", "30 mx3.example.com.", ttl=300)
        running.add("mx1.example.com", "A", "127.0.0.1")
        running.add("mx1.example.com", "AAAA", "::1")
        running.add("implicit.example", "A", "192.0.2.7")
        running.add("nullmx.example", "MX", "0 .")
        running.add("v6only.example", "AAAA", "2001:db8::25")
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def resolver(server: DnsServer, clock: FakeClock) -> Resolver:
    return Resolver(server.address, timeout=2.0, clock=clock)


async def test_mx_hosts_come_in_preference_order(resolver: Resolver) -> None:
    hosts = await resolver.mx_hosts("example.com")
    assert hosts == ["mx1.example.com", "mx2.example.com", "mx3.example.com"]


async def test_equal_preferences_are_all_returned(server: DnsServer, resolver: Resolver) -> None:
    server.add(
        "even.example", "MX", "10 a.even.example.", "10 b.even.example.", "5 c.even.example."
    )
    hosts = await resolver.mx_hosts("even.example")
    assert hosts[0] == "c.even.example"
    assert sorted(hosts[1:]) == ["a.even.example", "b.even.example"]


async def test_domain_without_mx_is_its_own_implicit_mx(resolver: Resolver) -> None:
    assert await resolver.mx_hosts("implicit.example") == ["implicit.example"]


async def test_domain_without_mx_or_address_accepts_no_mail(
    server: DnsServer, resolver: Resolver
) -> None:
    server.add("txtonly.example", "TXT", '"v=spf1 -all"')
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts("txtonly.example")
    assert failure.value.permanent


async def test_null_mx_is_a_permanent_error(resolver: Resolver) -> None:
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts("nullmx.example")
    assert failure.value.permanent
    assert "null MX" in failure.value.message


async def test_nxdomain_is_a_permanent_domain_error(resolver: Resolver) -> None:
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts("nowhere.example")
    assert isinstance(failure.value, MisivaError)
    assert failure.value.permanent
    assert "NXDOMAIN" in failure.value.message


async def test_servfail_is_transient(server: DnsServer, resolver: Resolver) -> None:
    server.fail("example.com", "SERVFAIL")
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts("example.com")
    assert not failure.value.permanent


async def test_timeout_is_transient(server: DnsServer, clock: FakeClock) -> None:
    server.fail("example.com", None)
    resolver = Resolver(server.address, timeout=0.3, clock=clock)
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts("example.com")
    assert not failure.value.permanent
    assert "timed out" in failure.value.message


async def test_mx_answers_are_cached_for_their_ttl(
    server: DnsServer, resolver: Resolver, clock: FakeClock
) -> None:
    for _ in range(5):
        await resolver.mx_hosts("example.com")
    assert server.queries.count(("example.com", "MX")) == 1
    clock.now += 299
    await resolver.mx_hosts("Example.COM.")
    assert server.queries.count(("example.com", "MX")) == 1
    clock.now += 2
    await resolver.mx_hosts("example.com")
    assert server.queries.count(("example.com", "MX")) == 2


async def test_cache_is_bounded(server: DnsServer, clock: FakeClock) -> None:
    resolver = Resolver(server.address, cache_size=1, clock=clock)
    await resolver.addresses("mx1.example.com")
    await resolver.addresses("implicit.example")
    await resolver.addresses("mx1.example.com")
    assert server.queries.count(("mx1.example.com", "A")) == 2


async def test_addresses_list_ipv4_before_ipv6(resolver: Resolver) -> None:
    assert await resolver.addresses("mx1.example.com") == ["127.0.0.1", "::1"]
    assert await resolver.addresses("v6only.example") == ["2001:db8::25"]


async def test_addresses_are_cached(server: DnsServer, resolver: Resolver) -> None:
    await resolver.addresses("mx1.example.com")
    await resolver.addresses("mx1.example.com")
    assert server.queries.count(("mx1.example.com", "A")) == 1


async def test_literals_and_localhost_need_no_query(server: DnsServer, resolver: Resolver) -> None:
    assert await resolver.addresses("192.0.2.1") == ["192.0.2.1"]
    assert await resolver.addresses("::1") == ["::1"]
    assert await resolver.addresses("localhost") == ["127.0.0.1", "::1"]
    assert await resolver.mx_hosts("[192.0.2.9]") == ["192.0.2.9"]
    assert await resolver.mx_hosts("[IPv6:2001:db8::1]") == ["2001:db8::1"]
    assert server.queries == []


async def test_host_without_addresses_is_an_error(resolver: Resolver) -> None:
    with pytest.raises(DnsError) as failure:
        await resolver.addresses("nullmx.example")
    assert failure.value.permanent


@pytest.mark.parametrize("domain", ["a..b", "", ".", "x" * 64 + ".example"])
async def test_invalid_names_are_permanent_errors(resolver: Resolver, domain: str) -> None:
    with pytest.raises(DnsError) as failure:
        await resolver.mx_hosts(domain)
    assert failure.value.permanent


def test_a_bad_nameserver_is_a_setup_error() -> None:
    with pytest.raises(SetupError):
        Resolver("127.0.0.1:port")


@pytest.mark.parametrize(
    ("nameserver", "host", "port"),
    [
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("[::1]:5300", "::1", 5300),
        ("10.0.0.1", "10.0.0.1", 53),
    ],
)
def test_nameserver_override_is_host_and_port(nameserver: str, host: str, port: int) -> None:
    resolver = Resolver(nameserver)
    assert resolver._resolver.nameservers == [host]
    assert resolver._resolver.port == port
