"""The local DNS server shipped for tests, checked with dnspython's own client."""

from __future__ import annotations

from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdtypes.ANY.TXT
import pytest

from misiva.testing.dns_server import DnsServer

DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 10


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer() as running:
        running.add("example.com", "MX", "10 mx1.example.com.", "20 mx2.example.com.")
        running.add("mx1.example.com", "A", "127.0.0.1")
        running.add("mx1.example.com", "AAAA", "::1")
        running.add("sel._domainkey.example.com", "TXT", f'"{DKIM_KEY}"')
        yield running


def _ask(server: DnsServer, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, server.host, port=server.port, timeout=2)
    return dns.query.udp(query, server.host, port=server.port, timeout=2)


def test_answers_mx_with_the_aa_flag(server: DnsServer) -> None:
    response = _ask(server, "example.com", "MX")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    [rrset] = response.answer
    assert sorted(rdata.to_text() for rdata in rrset) == [
        "10 mx1.example.com.",
        "20 mx2.example.com.",
    ]
    assert rrset.ttl == 60


def test_answers_a_and_aaaa(server: DnsServer) -> None:
    assert [r.address for r in _ask(server, "mx1.example.com", "A").answer[0]] == ["127.0.0.1"]
    assert [r.address for r in _ask(server, "mx1.example.com", "AAAA").answer[0]] == ["::1"]


def test_unknown_name_is_nxdomain(server: DnsServer) -> None:
    assert _ask(server, "nowhere.example.com", "A").rcode() == dns.rcode.NXDOMAIN


def test_known_name_other_type_is_nodata(server: DnsServer) -> None:
    response = _ask(server, "example.com", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


def test_name_with_records_below_it_is_nodata_not_nxdomain(server: DnsServer) -> None:
    # RFC 8020: _domainkey.example.com exists because sel._domainkey.example.com does.
    assert _ask(server, "_domainkey.example.com", "TXT").rcode() == dns.rcode.NOERROR


def test_long_txt_is_split_into_255_octet_strings(server: DnsServer) -> None:
    response = _ask(server, "sel._domainkey.example.com", "TXT", tcp=True)
    [rdata] = response.answer[0]
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    assert all(len(part) <= 255 for part in rdata.strings)
    assert b"".join(rdata.strings).decode() == DKIM_KEY


def test_udp_answer_too_big_is_truncated_for_a_tcp_retry(server: DnsServer) -> None:
    response = _ask(server, "sel._domainkey.example.com", "TXT")
    assert response.flags & dns.flags.TC


def test_ttl_and_added_values_accumulate(server: DnsServer) -> None:
    server.add("example.org", "A", "192.0.2.1", ttl=5)
    server.add("example.org", "A", "192.0.2.2", ttl=5)
    [rrset] = _ask(server, "example.org", "A").answer
    assert sorted(r.address for r in rrset) == ["192.0.2.1", "192.0.2.2"]
    assert rrset.ttl == 5


def test_remove_forgets_a_name(server: DnsServer) -> None:
    server.remove("mx1.example.com", "AAAA")
    assert _ask(server, "mx1.example.com", "AAAA").answer == []
    server.remove("mx1.example.com")
    assert _ask(server, "mx1.example.com", "A").rcode() == dns.rcode.NXDOMAIN


def test_fail_answers_servfail_and_heal_undoes_it(server: DnsServer) -> None:
    server.fail("example.com")
    assert _ask(server, "example.com", "MX").rcode() == dns.rcode.SERVFAIL
    server.heal("example.com")
    assert _ask(server, "example.com", "MX").rcode() == dns.rcode.NOERROR


def test_fail_without_rcode_never_answers(server: DnsServer) -> None:
    server.fail("example.com", None)
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(
            dns.message.make_query("example.com", "MX"), server.host, port=server.port, timeout=0.2
        )


def test_records_every_question(server: DnsServer) -> None:
    _ask(server, "example.com", "MX")
    _ask(server, "mx1.example.com", "A", tcp=True)
    assert server.queries == [("example.com", "MX"), ("mx1.example.com", "A")]
    assert server.address == f"127.0.0.1:{server.port}"
