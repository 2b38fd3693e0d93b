"""The rules of alerts and sender requirements as tables: providers by recipient domain,
levels with their minimum volume, hysteresis, and each Gmail/Yahoo requirement's verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from misiva.domain.alerts import (
    DEFAULT_THRESHOLDS,
    Alert,
    AlertLevel,
    AlertMetric,
    AlertScope,
    Step,
    next_step,
    provider_of,
)
from misiva.domain.dns_checks import DomainCheck, RecordCheck
from misiva.domain.enums import StreamType
from misiva.domain.sender_requirements import Requirement, Verdict, check_requirements

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gmail.com", "google"),
        ("GoogleMail.com", "google"),
        ("hotmail.es", "microsoft"),
        ("outlook.com", "microsoft"),
        ("live.co.uk", "microsoft"),
        ("yahoo.co.jp", "yahoo"),
        ("aol.com", "yahoo"),
        ("me.com", "apple"),
        ("icloud.com", "apple"),
        ("shop.example", "shop.example"),
    ],
)
def test_recipient_domains_fall_into_provider_families(domain: str, provider: str) -> None:
    assert provider_of(domain) == provider


def test_levels_need_their_minimum_volume() -> None:
    complaints = DEFAULT_THRESHOLDS[AlertMetric.COMPLAINT_RATE]
    assert complaints.level(0.004, 999) is None
    assert complaints.level(0.004, 1000) is AlertLevel.DANGER
    assert complaints.level(0.002, 5000) is AlertLevel.WARNING
    assert complaints.level(0.0009, 5000) is None


def _alert(below_since: datetime | None) -> Alert:
    return Alert(
        1, 1, AlertMetric.BOUNCE_RATE, AlertScope.SERVER, "", "1h", AlertLevel.WARNING,
        0.06, 0.05, 500, NOW - HOUR, NOW - HOUR, below_since,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("level", "alert", "step"),
    [
        (None, None, Step.NOTHING),
        (AlertLevel.WARNING, None, Step.OPEN),
        (AlertLevel.DANGER, _alert(None), Step.UPDATE),
        (AlertLevel.WARNING, _alert(NOW - 2 * HOUR), Step.UPDATE),
        (None, _alert(None), Step.BELOW),
        (None, _alert(NOW - 30 * timedelta(minutes=1)), Step.BELOW),
        (None, _alert(NOW - HOUR), Step.RESOLVE),
    ],
)
def test_hysteresis(level: AlertLevel | None, alert: Alert | None, step: Step) -> None:
    assert next_step(level, alert, NOW, HOUR) is step


def _check(**ok: bool) -> DomainCheck:
    records = [
        RecordCheck.from_json(
            {
                "kind": kind,
                "name": f"{kind}.shop.example",
                "type": "TXT",
                "expected": "",
                "ok": good,
                "problem": "" if good else f"No {kind.upper()} record is published.",
            }
        )
        for kind, good in ok.items()
    ]
    return DomainCheck(NOW, tuple(records))


def _verdicts(**kwargs: object) -> dict[Requirement, Verdict]:
    given: dict[str, object] = {
        "domain": "shop.example",
        "stream": "broadcast",
        "stream_type": StreamType.BROADCASTS,
        "handles_unsubscribe": True,
        "dns": _check(dkim=True, spf=True, dmarc=True),
        "return_path_domain": "bounces.shop.example",
        "return_path_aligned": True,
        "complaints": (1, 1000),
    } | kwargs
    line = check_requirements(**given)  # type: ignore[arg-type]
    return {c.requirement: c.verdict for c in line.checks}


def test_a_well_set_up_commercial_stream_meets_every_requirement() -> None:
    assert set(_verdicts().values()) == {Verdict.MET}


def test_each_requirement_that_is_not_met_is_named() -> None:
    broken = _verdicts(
        dns=_check(dkim=False, spf=True, dmarc=False),
        return_path_domain="bounces.misiva-host.net",
        return_path_aligned=False,
        handles_unsubscribe=False,
        complaints=(4, 1000),
    )
    assert broken == {
        Requirement.SPF: Verdict.MET,
        Requirement.DKIM: Verdict.NOT_MET,
        Requirement.DMARC: Verdict.NOT_MET,
        # No DKIM, and the Return-Path is another organisation's domain: nothing aligns.
        Requirement.ALIGNMENT: Verdict.NOT_MET,
        Requirement.ONE_CLICK_UNSUBSCRIBE: Verdict.NOT_MET,
        Requirement.COMPLAINT_RATE: Verdict.NOT_MET,
    }
    # SPF alone aligns when the Return-Path is the From domain's own subdomain.
    assert _verdicts(dns=_check(dkim=False, spf=True, dmarc=True))[Requirement.ALIGNMENT] == (
        Verdict.MET
    )
    transactional = _verdicts(stream_type=StreamType.TRANSACTIONAL, handles_unsubscribe=False)
    assert transactional[Requirement.ONE_CLICK_UNSUBSCRIBE] is Verdict.NOT_APPLICABLE
