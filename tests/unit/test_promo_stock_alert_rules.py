"""A promo pool's stock levels as a table: warning at or under its threshold, danger at none
left only when it refuses sends, nothing above; its alert resolves at once when restocked."""

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
    pool_levels,
    threshold_from,
)
from misiva.domain.errors import InvalidRequest

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("threshold", "refuses", "left", "level"),
    [
        (100, True, 101, None),
        (100, True, 100, AlertLevel.WARNING),
        (100, True, 1, AlertLevel.WARNING),
        (100, True, 0, AlertLevel.DANGER),
        (100, False, 0, AlertLevel.WARNING),
        (0, True, 1, None),
        (0, True, 0, AlertLevel.DANGER),
        (0, False, 0, AlertLevel.WARNING),
    ],
)
def test_a_pools_levels(threshold: int, refuses: bool, left: int, level: AlertLevel | None) -> None:
    assert pool_levels(threshold, refuses).level(float(left), 1) is level
    # A pool no longer measured (ended, deleted) reads as quiet.
    assert pool_levels(threshold, refuses).level(0.0, 0) is None


def test_a_stock_alert_resolves_at_the_first_measure_above_its_threshold() -> None:
    alert = Alert(
        1, 1, AlertMetric.PROMO_STOCK, AlertScope.POOL, "WELCOME10", "1h", AlertLevel.WARNING,
        3.0, 5.0, 1, NOW, NOW, None, None, {"low_stock_threshold": 5, "exhaustion": "omit"},
    )  # fmt: skip
    assert next_step(None, alert, NOW, timedelta(0)) is Step.RESOLVE
    assert next_step(AlertLevel.WARNING, alert, NOW, timedelta(0)) is Step.UPDATE
    assert alert.describe() == (
        "warning: promo pool WELCOME10 is low on stock: 3 code(s) left (threshold 5)"
    )


def test_servers_do_not_set_pool_levels() -> None:
    assert AlertMetric.PROMO_STOCK not in DEFAULT_THRESHOLDS
    with pytest.raises(InvalidRequest, match="each promo pool's own LowStockThreshold"):
        threshold_from("promo_codes_available", 5, 0, 0)
    with pytest.raises(InvalidRequest, match="Unknown metric 'nope'"):
        threshold_from("nope", 5, 0, 0)
