"""DMARC records read as receivers read them, and alignment by organizational domain."""

from __future__ import annotations

import pytest

from misiva.mail.dmarc_policy import (
    DmarcSyntaxError,
    aligned,
    organizational_domain,
    parse_policy,
)


def test_a_policy_with_its_tags() -> None:
    policy = parse_policy("v=DMARC1; p=quarantine; sp=reject; adkim=s; pct=50; rua=mailto:a@x.test")
    assert (policy.policy, policy.subdomain_policy, policy.adkim, policy.aspf) == (
        "quarantine",
        "reject",
        "s",
        "r",
    )
    assert policy.pct == 50 and policy.rua == ("mailto:a@x.test",)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("p=none; v=DMARC1", "must start with v=DMARC1"),
        ("v=DMARC1; rua=mailto:a@x.test", "needs p=none"),
        ("v=DMARC1; p=block", "needs p=none"),
        ("v=DMARC1; p=none; aspf=x", "adkim and aspf"),
        ("v=DMARC1; p=none; pct=all", "pct must be"),
        ("v=DMARC1; p=none; nonsense", "not a tag=value"),
    ],
)
def test_records_receivers_would_ignore(record: str, problem: str) -> None:
    with pytest.raises(DmarcSyntaxError, match=problem):
        parse_policy(record)


def test_organizational_domains_follow_the_public_suffix_list() -> None:
    assert organizational_domain("mail.shop.example.co.uk") == "example.co.uk"
    assert organizational_domain("misiva-bounces.shop.example.com.") == "example.com"
    assert organizational_domain("shop.test") == "shop.test"


def test_relaxed_alignment_takes_subdomains_and_strict_does_not() -> None:
    assert aligned("shop.example.com", "misiva-bounces.shop.example.com", "r")
    assert not aligned("shop.example.com", "misiva-bounces.shop.example.com", "s")
    assert aligned("shop.example.com", "SHOP.example.com.", "s")
    assert not aligned("shop.example.com", "bounces.misiva.example", "r")
