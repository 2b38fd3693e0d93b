"""The vocabulary of sending statistics: what is counted, along which dimensions, the latency
buckets, the danger thresholds of the rates, and how a bounce's reason is summed up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from misiva.domain.enums import EventType


class Metric(StrEnum):
    """What the rollups count, one event each (a message's `sent` once per recipient)."""

    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    OPENED = "opened"
    CLICKED = "clicked"


class Step(StrEnum):
    """The span of one rollup row: hours for a day's chart, UTC days for a week or a month."""

    HOUR = "hour"
    DAY = "day"


class Dimension(StrEnum):
    """Along what the counts are broken down; `all` is the server's total."""

    ALL = "all"
    STREAM = "stream"
    TEMPLATE = "template"
    TAG = "tag"
    DOMAIN = "domain"
    # Bounced events only: the bounce type and a summary of the remote server's words.
    BOUNCE_REASON = "bounce_reason"


# The events that feed each metric; the others (deferred, auto-replies, subscription changes)
# are not charted.
METRIC_OF: Final[dict[EventType, Metric]] = {
    EventType.QUEUED: Metric.SENT,
    EventType.DELIVERED: Metric.DELIVERED,
    EventType.BOUNCED: Metric.BOUNCED,
    EventType.COMPLAINED: Metric.COMPLAINED,
    EventType.OPENED: Metric.OPENED,
    EventType.CLICKED: Metric.CLICKED,
}

# Upper bounds, in seconds, of the accept-to-first-delivery histogram's buckets (a last one
# holds everything slower). Roughly logarithmic, from a local relay's sub-second hand-over to
# the RFC 5321 §4.5.4.1 retry window of days: percentiles come from these counts, so each is
# known to within one bucket, about a factor of 1.5 to 2.
LATENCY_BOUNDS: Final[tuple[float, ...]] = (
    0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900,
    1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 43200, 86400, 172800, 345600,
)  # fmt: skip


def latency_bucket(seconds: float) -> int:
    """The histogram bucket of one delivery's latency (len(LATENCY_BOUNDS) for the slowest)."""
    for index, bound in enumerate(LATENCY_BOUNDS):
        if seconds <= bound:
            return index
    return len(LATENCY_BOUNDS)


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The upper bound of the bucket holding the `fraction` quantile (0.5 for the median):
    "95% of messages were delivered within this many seconds". None without deliveries;
    infinity when the quantile lies past the last bound."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    # The rank of the quantile, 1-based: the smallest count that reaches the fraction.
    rank = max(1, -int(-fraction * total // 1))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else float("inf")
    return float("inf")


class Level(StrEnum):
    GOOD = "good"
    WARNING = "warning"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Threshold:
    """A rate's warning and danger levels (fractions), and whether high is bad (bounces,
    complaints) or low is (delivery)."""

    warning: float
    danger: float
    high_is_bad: bool = True

    def level(self, rate: float) -> Level:
        # Flip the sign of a rate where low is bad, so that larger always means worse.
        sign = 1 if self.high_is_bad else -1
        if sign * rate >= sign * self.danger:
            return Level.DANGER
        if sign * rate >= sign * self.warning:
            return Level.WARNING
        return Level.GOOD


# Bounces: Amazon SES puts an account under review at a 5% bounce rate and may pause it at
# 10% (SES developer guide, "Sending review process FAQs"); Postmark reviews accounts whose
# bounce rate passes 10% too. Complaints: Google's email sender guidelines
# (support.google.com/mail/answer/81126) ask to keep the spam rate below 0.1% and never reach
# 0.3%, past which Gmail rejects or junks mail. Delivery is what is left after bounces, so
# its levels mirror the bounce rate's.
BOUNCE_RATE: Final = Threshold(warning=0.05, danger=0.10)
COMPLAINT_RATE: Final = Threshold(warning=0.001, danger=0.003)
DELIVERY_RATE: Final = Threshold(warning=0.95, danger=0.90, high_is_bad=False)

# RFC 3464 §2.3.6: a DSN's Diagnostic-Code starts with its type, "smtp; 550 5.1.1 ...".
_DIAGNOSTIC_TYPE = re.compile(r"^\s*[A-Za-z][\w-]*;\s*")
_CODE = re.compile(r"^\s*([245]\d\d)(?:[ -]+([245]\.\d{1,3}\.\d{1,3}))?[ -]*")
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")
_NUMBERS = re.compile(r"\b[\w.-]*\d[\w.-]*\d[\w.-]*\b")
REASON_LENGTH: Final = 120


def bounce_reason(details: Mapping[str, str]) -> str:
    """A bounce's reason as the dashboard counts it: its type, the enhanced status code
    (RFC 3463) and the remote server's words without the addresses and numbers that would
    make every bounce a reason of its own (queue ids, IPs, the recipient)."""
    kind = details.get("bounce_type") or "Unknown"
    said = details.get("reply") or details.get("diagnostic") or ""
    said = _DIAGNOSTIC_TYPE.sub("", said)
    match = _CODE.match(said)
    code = ""
    if match:
        code = match.group(2) or match.group(1)
        said = said[match.end() :]
    said = _NUMBERS.sub("…", _ADDRESS.sub("…", said))
    said = " ".join(said.split()).strip(" :;,-")
    summary = " ".join(part for part in (kind, code, said) if part)
    return summary[:REASON_LENGTH]


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def recipient_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()
