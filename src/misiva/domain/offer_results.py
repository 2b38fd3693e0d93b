"""Offer results: the funnel of sends, opens, clicks, conversions and revenue of a template or
of a content block's variant, and which A/B variant is winning and whether it is significant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

# The usual 95% confidence: a difference this unlikely under "no difference" is significant.
SIGNIFICANCE: Final = 0.05
# The normal approximation of the two-proportion test holds once each variant has at least
# this many successes and this many failures (the textbook np >= 5 rule); below, no verdict.
MIN_OUTCOMES: Final = 5


@dataclass(frozen=True, slots=True)
class Funnel:
    sends: int = 0
    opens: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: Mapping[str, Decimal] = field(default_factory=dict)  # currency -> total

    @staticmethod
    def rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def conversion_rate(self) -> float | None:
        return self.rate(self.conversions, self.sends)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Which variant leads on `metric` ("conversions", or "clicks" while none converted)."""

    metric: str
    leader: str | None
    runner_up: str | None
    p_value: float | None  # None when there is not yet enough data for the test
    significant: bool


def two_proportion_p(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when the normal
    approximation does not hold yet."""
    for hits, n in ((hits_a, n_a), (hits_b, n_b)):
        if n <= 0 or hits < MIN_OUTCOMES or n - hits < MIN_OUTCOMES:
            return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return None
    z = (hits_a / n_a - hits_b / n_b) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def compare(variants: Sequence[tuple[str, Funnel]]) -> Comparison | None:
    """The leading variant against the runner-up; None with fewer than two variants sent."""
    sent = [(name, f) for name, f in variants if f.sends]
    if len(sent) < 2:
        return None
    metric = "conversions" if any(f.conversions for _, f in sent) else "clicks"

    def hits(f: Funnel) -> int:
        return f.conversions if metric == "conversions" else f.clicks

    ranked = sorted(sent, key=lambda item: hits(item[1]) / item[1].sends, reverse=True)
    (lead, a), (second, b) = ranked[0], ranked[1]
    if hits(a) / a.sends == hits(b) / b.sends:
        return Comparison(metric, None, None, None, False)
    p = two_proportion_p(hits(a), a.sends, hits(b), b.sends)
    return Comparison(metric, lead, second, p, p is not None and p < SIGNIFICANCE)
