"""The statistics vocabulary: bounce reasons as the dashboard groups them, percentiles from
histogram buckets, and the rates' danger levels."""

from __future__ import annotations

import pytest

from misiva.domain.stats import (
    BOUNCE_RATE,
    COMPLAINT_RATE,
    DELIVERY_RATE,
    LATENCY_BOUNDS,
    Level,
    bounce_reason,
    latency_bucket,
    percentile,
)


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        (
            {"bounce_type": "HardBounce", "reply": "550 5.1.1 <ana@example.com>: User unknown"},
            "HardBounce 5.1.1 …: User unknown",
        ),
        (
            {"bounce_type": "HardBounce", "reply": "550-5.1.1 The email account does not exist"},
            "HardBounce 5.1.1 The email account does not exist",
        ),
        (
            {"bounce_type": "Blocked", "reply": "554 Rejected by 203.0.113.7 (id=AB12CD34)"},
            "Blocked 554 Rejected by … (id=…)",
        ),
        (
            {"bounce_type": "SoftBounce", "diagnostic": "smtp; 552 5.2.2 Mailbox full"},
            "SoftBounce 5.2.2 Mailbox full",
        ),
        ({"bounce": "soft", "reason": "retries expired"}, "Unknown"),
    ],
)
def test_a_bounce_reason_keeps_the_kind_and_the_words_not_the_particulars(
    details: dict[str, str], reason: str
) -> None:
    assert bounce_reason(details) == reason


def test_percentiles_are_the_upper_bound_of_their_bucket() -> None:
    histogram = {latency_bucket(0.8): 50, latency_bucket(4): 45, latency_bucket(100): 5}
    assert percentile(histogram, 0.5) == 1
    assert percentile(histogram, 0.95) == 5
    assert percentile(histogram, 0.96) == 120
    assert percentile({}, 0.5) is None
    assert percentile({len(LATENCY_BOUNDS): 1}, 0.5) == float("inf")
    assert latency_bucket(10**9) == len(LATENCY_BOUNDS)


@pytest.mark.parametrize(
    ("threshold", "rate", "level"),
    [
        (BOUNCE_RATE, 0.049, Level.GOOD),
        (BOUNCE_RATE, 0.05, Level.WARNING),
        (BOUNCE_RATE, 0.10, Level.DANGER),
        (COMPLAINT_RATE, 0.0009, Level.GOOD),
        (COMPLAINT_RATE, 0.001, Level.WARNING),
        (COMPLAINT_RATE, 0.003, Level.DANGER),
        (DELIVERY_RATE, 0.97, Level.GOOD),
        (DELIVERY_RATE, 0.93, Level.WARNING),
        (DELIVERY_RATE, 0.85, Level.DANGER),
    ],
)
def test_rates_against_their_thresholds(threshold: object, rate: float, level: Level) -> None:
    assert threshold.level(rate) is level  # type: ignore[attr-defined]
