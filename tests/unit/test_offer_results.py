"""The A/B verdict and the conversion rules: the two-proportion test against worked values,
which variant leads, and how values, currencies and a recipient's touches are read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from misiva.domain.conversions import (
    check_currency,
    check_window,
    from_micros,
    last_touch,
    parse_value,
    to_micros,
)
from misiva.domain.errors import InvalidRequest
from misiva.domain.offer_results import Funnel, compare, two_proportion_p


def test_the_two_proportion_test_matches_a_worked_example() -> None:
    # 20% of 1,000 against 15% of 1,000: z = 0.05 / sqrt(0.175 * 0.825 * 2 / 1000) = 2.942.
    p = two_proportion_p(200, 1000, 150, 1000)
    assert p == pytest.approx(0.00326, abs=0.0001)
    assert two_proportion_p(150, 1000, 200, 1000) == p  # two-sided
    assert two_proportion_p(10, 100, 8, 100) == pytest.approx(0.6212, abs=0.001)


def test_too_few_outcomes_give_no_verdict() -> None:
    assert two_proportion_p(4, 10, 1, 10) is None
    assert two_proportion_p(10, 10, 5, 10) is None  # no failures in A
    assert two_proportion_p(0, 0, 5, 100) is None


def test_compare_names_the_leader_and_whether_it_is_significant() -> None:
    a = Funnel(sends=1000, clicks=150, conversions=200)
    b = Funnel(sends=1000, clicks=300, conversions=150)
    found = compare([("A", a), ("B", b)])
    assert found is not None
    assert (found.metric, found.leader, found.runner_up, found.significant) == (
        "conversions",
        "A",
        "B",
        True,
    )
    # With no conversions yet, clicks decide.
    found = compare([("A", Funnel(sends=100, clicks=10)), ("B", Funnel(sends=100, clicks=12))])
    assert found is not None and found.metric == "clicks" and found.leader == "B"
    assert found.significant is False
    # A tie has no leader; a single variant sent has nothing to compare.
    tie = compare([("A", Funnel(sends=10, clicks=1)), ("B", Funnel(sends=10, clicks=1))])
    assert tie is not None and tie.leader is None
    assert compare([("A", Funnel(sends=10)), ("B", Funnel())]) is None


def test_values_currencies_and_windows_are_checked() -> None:
    assert parse_value("49.90") == Decimal("49.90") and parse_value(3) == Decimal(3)
    assert from_micros(to_micros(Decimal("0.000001"))) == Decimal("0.000001")
    assert from_micros(to_micros(Decimal("49.90"))) == Decimal("49.9")
    assert check_currency("eur") == "EUR"
    for bad in (-1, "1e400", "NaN", True, None, "0.0000001", 10**13):
        with pytest.raises(InvalidRequest):
            parse_value(bad)
    for bad_currency in ("EURO", "", 978, "XYZ"):
        with pytest.raises(InvalidRequest):
            check_currency(bad_currency)
    assert check_window(24).total_seconds() == 86400
    for bad_window in (0, 24 * 91, "24", 1.5):
        with pytest.raises(InvalidRequest):
            check_window(bad_window)


def test_last_touch_prefers_a_click_then_an_open_then_a_delivery() -> None:
    newest_first = [("m3", "delivered"), ("m2", "opened"), ("m1", "clicked"), ("m0", "opened")]
    assert last_touch(newest_first) == ("m1", "clicked")
    assert last_touch(newest_first[:2]) == ("m2", "opened")
    assert last_touch([("m3", "delivered"), ("m2", "delivered")]) == ("m3", "delivered")
    assert last_touch([]) is None
