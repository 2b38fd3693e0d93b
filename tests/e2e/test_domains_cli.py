"""`misiva domains check | records | rotate-dkim` as an operator runs them, against a real
local DNS server: one line per record, what to fix, and an exit code scripts can test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import Misiva
from misiva.testing.dns_server import DnsServer

pytestmark = pytest.mark.slow


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


def quoted(value: str) -> str:
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def test_check_reports_each_record_and_exits_non_zero_until_all_pass(
    misiva_factory: Callable[..., Misiva], dns: DnsServer
) -> None:
    misiva = misiva_factory(
        dns_nameserver=dns.address,
        bounce_domain="bounces.misiva.test",
        hostname="mx.misiva.test",
        outbound_ips="192.0.2.25",
    )
    misiva.setup_tenant("shop", "shop.test")
    failed = misiva.cli("domains", "check", "shop.test", check=False)
    assert failed.returncode == 1
    assert "[FAIL] dkim" in failed.stdout and "[FAIL] return-path" in failed.stdout
    assert "fix: Publish a TXT record at _dmarc.shop.test" in failed.stdout

    for record in misiva.cli_json("domains", "records", "shop.test"):
        value = record["Value"] + "." if record["Type"] == "CNAME" else quoted(record["Value"])
        dns.add(record["Host"], record["Type"], value)
    dns.add("bounces.misiva.test", "MX", "10 mx.misiva.test.")
    passed = misiva.cli("domains", "check", "shop.test")
    assert passed.stdout.count("[ok  ]") == 4, passed.stdout

    # A rotation: the new key's record is listed beside the signing one until it takes over.
    rotated = misiva.cli_json("domains", "rotate-dkim", "shop.test", "--algorithm", "ed25519")
    assert rotated["State"] == "pending" and rotated["Selector"].endswith("e")
    listed = misiva.cli("domains", "records", "shop.test").stdout
    assert "(ed25519 key, pending)" in listed and "(rsa key, active)" in listed
    pending = misiva.cli("domains", "check", "shop.test", check=False)
    # Not published yet: a warning (it does not sign until it is), not a failure.
    assert pending.returncode == 0 and "[warn] dkim" in pending.stdout

    unknown = misiva.cli("domains", "check", "nope.test", check=False)
    assert unknown.returncode == 1 and "no sending domain nope.test" in unknown.stderr
