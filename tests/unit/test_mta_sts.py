"""MTA-STS policy text, TXT records and MX patterns (RFC 8461 §3 and §4.1)."""

from __future__ import annotations

import pytest

from misiva.delivery.mta_sts import StsMode, StsPolicy, parse_policy, parse_txt

# The example of RFC 8461 §3.2, with CRLF line ends as served.
RFC_POLICY = (
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    "mx: backupmx.example.com\r\nmax_age: 604800\r\n"
)


def test_the_rfc_example_policy_parses() -> None:
    policy = parse_policy(RFC_POLICY)
    assert policy.mode is StsMode.ENFORCE
    assert policy.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")
    assert policy.max_age == 604800


@pytest.mark.parametrize(
    "text",
    [
        "mode: enforce\nmx: a.example\nmax_age: 10\n",  # no version
        "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 10\n",
        "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 10\n",
        "version: STSv1\nmode: enforce\nmax_age: 10\n",  # enforce without mx
        "version: STSv1\nmode: testing\nmx: a.example\n",  # no max_age
    ],
)
def test_a_broken_policy_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_policy(text)


def test_mode_none_needs_no_mx_and_max_age_is_capped_at_a_year() -> None:
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 99999999999\n")
    assert policy.mode is StsMode.NONE and policy.max_age == 31_557_600


@pytest.mark.parametrize(
    ("records", "found"),
    [
        (["v=STSv1; id=20160831085700Z;"], "20160831085700Z"),
        (["v=STSv1;id=abc"], "abc"),
        (["v=spf1 -all", "v=STSv1; id=abc"], "abc"),
        (["v=STSv1; id=a", "v=STSv1; id=b"], None),  # two records: no policy (§3.1)
        (["v=STSv1; id=not-alnum!"], None),
        ([], None),
    ],
)
def test_the_txt_record_gives_the_policy_id(records: list[str], found: str | None) -> None:
    assert parse_txt(records) == found


def test_mx_patterns_match_exactly_or_one_leftmost_label() -> None:
    policy = StsPolicy(StsMode.ENFORCE, ("mail.example.com", "*.example.net"), 86400)
    assert policy.allows("mail.example.com") and policy.allows("MAIL.example.com.")
    assert policy.allows("mx1.example.net")
    assert not policy.allows("example.net")
    assert not policy.allows("a.b.example.net")
    assert not policy.allows("mail.example.org")
