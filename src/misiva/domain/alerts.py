"""Alerts on sending health: what is measured (rates and delivery time, failing DNS records,
a promo pool's stock), along what (the server, a stream, a mailbox provider, a sending domain,
a pool), over which sliding windows, at which levels, and when an alert opens, stays open and
resolves."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from misiva.domain.errors import InvalidRequest


class AlertMetric(StrEnum):
    BOUNCE_RATE = "bounce_rate"  # bounced of sent
    COMPLAINT_RATE = "complaint_rate"  # complaints of delivered
    DEFERRAL_RATE = "deferral_rate"  # deferred attempts of all attempts
    DELIVERY_P95 = "delivery_p95"  # seconds from accept to first delivery, 95th percentile
    # A sending domain's DNS records that fail their last check (DKIM, SPF, DMARC,
    # Return-Path): a broken record costs deliverability before any rate shows it.
    DNS_FAILING = "dns_records_failing"
    # A promo pool's codes left, against the pool's own LowStockThreshold: sends that need a
    # code get the fallback, nothing, or a refusal once none is left.
    PROMO_STOCK = "promo_codes_available"
    # A trigger's errors of the last hour: events it could not send for (its template needs a
    # variable the event lacks) and its scheduled messages refused at release.
    AUTOMATION_ERRORS = "automation_errors"


# The metrics that are fractions (shown and typed as percentages); the others are counts or
# seconds.
RATES: Final = frozenset(
    {AlertMetric.BOUNCE_RATE, AlertMetric.COMPLAINT_RATE, AlertMetric.DEFERRAL_RATE}
)


class AlertScope(StrEnum):
    SERVER = "server"
    STREAM = "stream"
    PROVIDER = "provider"
    DOMAIN = "domain"  # a sending domain
    POOL = "pool"  # a promo code pool, by its key
    TRIGGER = "trigger"  # an automation trigger (rule), by its key


class AlertLevel(StrEnum):
    WARNING = "warning"
    DANGER = "danger"


class AlertState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window, read from hourly rollups: the hours that overlap the last `span`
    (so "1h" is the current hour so far and the one before it)."""

    key: str
    span: timedelta


WINDOWS: Final = (Window("1h", timedelta(hours=1)), Window("24h", timedelta(hours=24)))
WINDOW_BY_KEY: Final = {w.key: w for w in WINDOWS}


@dataclass(frozen=True, slots=True)
class AlertThreshold:
    """Levels of one metric (fractions for rates, seconds for delivery time) and the volume
    below which a window says too little to alert on (two bounces of ten sends are 20%)."""

    metric: AlertMetric
    warning: float
    danger: float
    min_volume: int
    # Lower is worse (a stock): the levels are reached at or under warning and danger.
    falling: bool = False

    def level(self, value: float, volume: int) -> AlertLevel | None:
        if volume < self.min_volume:
            return None
        if self.falling:
            if value > self.warning:
                return None
            return AlertLevel.DANGER if value <= self.danger else AlertLevel.WARNING
        if value < self.warning:
            return None
        return AlertLevel.DANGER if value >= self.danger else AlertLevel.WARNING


def threshold_from(metric: str, warning: Any, danger: Any, min_volume: Any) -> AlertThreshold:
    """A threshold as a door received it (JSON, a form); InvalidRequest saying what is wrong."""
    try:
        chosen = AlertMetric(metric)
    except ValueError:
        chosen = None
    if chosen is AlertMetric.PROMO_STOCK:
        raise InvalidRequest(f"The levels of {metric} are each promo pool's own LowStockThreshold.")
    if chosen is AlertMetric.AUTOMATION_ERRORS:
        raise InvalidRequest(f"{metric} alerts at a trigger's first error; it has no levels.")
    if chosen is None:
        names = ", ".join(m.value for m in DEFAULT_THRESHOLDS)
        raise InvalidRequest(f"Unknown metric {metric!r}: one of {names}.")
    try:
        low, high, volume = float(warning), float(danger), int(min_volume)
    except (TypeError, ValueError):
        raise InvalidRequest("Warning and Danger must be numbers, MinVolume a whole one.") from None
    if not 0 <= low <= high or volume < 0:
        raise InvalidRequest("Levels must be 0 <= Warning <= Danger, and MinVolume >= 0.")
    return AlertThreshold(chosen, low, high, volume)


# Bounces: Amazon SES reviews an account at 5% and may pause it at 10%. Complaints: Google
# asks senders to stay under 0.1% and never reach 0.3% (support.google.com/mail/answer/81126),
# the line past which Gmail junks or refuses their mail; complaints are rare events, so a
# rate needs a thousand deliveries to mean anything. Deferrals: a provider that defers one
# attempt in ten is throttling (RFC 5321 §4.2.5 421/451 replies), one in four is refusing.
# Delivery time: transactional mail is expected in seconds; a 95th percentile past five
# minutes means a queue, past half an hour a broken route.
DEFAULT_THRESHOLDS: Final[Mapping[AlertMetric, AlertThreshold]] = {
    t.metric: t
    for t in (
        AlertThreshold(AlertMetric.BOUNCE_RATE, 0.05, 0.10, 100),
        AlertThreshold(AlertMetric.COMPLAINT_RATE, 0.001, 0.003, 1000),
        AlertThreshold(AlertMetric.DEFERRAL_RATE, 0.10, 0.25, 100),
        AlertThreshold(AlertMetric.DELIVERY_P95, 300.0, 1800.0, 50),
        # One failing record is already mail that fails authentication somewhere.
        AlertThreshold(AlertMetric.DNS_FAILING, 1.0, 1.0, 0),
    )
}
# The metrics a server sets levels for are DEFAULT_THRESHOLDS' keys. A promo pool's stock is
# measured against the pool's own LowStockThreshold (Measurement.levels), and its alert
# resolves as soon as the pool is restocked: a stock moves only when codes are taken or
# added, with no noise to wait out, and the pool's flag (low_stock_alerted_at) clears then too.
# A trigger's errors are counted over the last hour already: once none is left in it, an
# hour has passed without one, and its alert resolves.
RESOLVE_AT_ONCE: Final = frozenset({AlertMetric.PROMO_STOCK, AlertMetric.AUTOMATION_ERRORS})
# One error is a contact who did not get a message: a warning at once, never a danger level.
AUTOMATION_LEVELS: Final = AlertThreshold(AlertMetric.AUTOMATION_ERRORS, 1.0, math.inf, 1)


def pool_levels(low_stock_threshold: int, refuses: bool) -> AlertThreshold:
    """A pool's levels: warning at or under its low-stock threshold; danger at none left
    when its exhaustion rule refuses sends (then sends fail), never otherwise (recipients
    get the fallback text or nothing, and the send goes on)."""
    danger = 0.0 if refuses else -1.0
    return AlertThreshold(AlertMetric.PROMO_STOCK, float(low_stock_threshold), danger, 1, True)


# Mailbox providers by the recipient domains they host: the same filters and reputation
# stand behind each family, so their rates are read together. Anything else is itself.
PROVIDER_DOMAINS: Final[Mapping[str, str]] = {
    "gmail.com": "google",
    "googlemail.com": "google",
    "outlook.com": "microsoft",
    "hotmail.com": "microsoft",
    "live.com": "microsoft",
    "msn.com": "microsoft",
    "yahoo.com": "yahoo",
    "ymail.com": "yahoo",
    "rocketmail.com": "yahoo",
    "aol.com": "yahoo",
    "icloud.com": "apple",
    "me.com": "apple",
    "mac.com": "apple",
}
# Country variants (hotmail.es, yahoo.co.uk, outlook.com.mx...): the label before them.
_PROVIDER_LABELS: Final[Mapping[str, str]] = {
    "gmail": "google",
    "googlemail": "google",
    "outlook": "microsoft",
    "hotmail": "microsoft",
    "live": "microsoft",
    "yahoo": "yahoo",
    "ymail": "yahoo",
    "aol": "yahoo",
}


def provider_of(domain: str) -> str:
    """The mailbox provider family of a recipient domain, else the domain itself."""
    domain = domain.strip().lower().rstrip(".")
    if domain in PROVIDER_DOMAINS:
        return PROVIDER_DOMAINS[domain]
    first = domain.split(".", 1)[0]
    return _PROVIDER_LABELS.get(first, domain)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One metric of one subject over one window: its value and the volume it rests on."""

    metric: AlertMetric
    scope: AlertScope
    subject: str  # the stream id, the provider, or "" for the server
    window: Window
    value: float
    volume: int
    # What a reader needs beyond the number (the failing DNS records, by kind).
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    # The subject's own levels in place of the server's (a promo pool's threshold).
    levels: AlertThreshold | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """What an open alert is about: one per metric, scope, subject and window."""
        return f"{self.metric.value}|{self.scope.value}|{self.window.key}|{self.subject}"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    server_id: int
    metric: AlertMetric
    scope: AlertScope
    subject: str
    window: str
    level: AlertLevel
    value: float
    threshold: float
    volume: int
    opened_at: datetime
    updated_at: datetime
    below_since: datetime | None = None
    resolved_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """As Measurement.key: what this alert is about."""
        return f"{self.metric.value}|{self.scope.value}|{self.window}|{self.subject}"

    @property
    def state(self) -> AlertState:
        return AlertState.OPEN if self.resolved_at is None else AlertState.RESOLVED

    def describe(self) -> str:
        """One line for an email's subject, a log or the CLI."""
        if self.metric is AlertMetric.DNS_FAILING:
            failing = ", ".join(self.details.get("records", ())) or "records"
            return (
                f"{self.level.value}: {format_value(self.metric, self.value)} "
                f"on domain {self.subject} ({failing})"
            )
        if self.metric is AlertMetric.PROMO_STOCK:
            return f"{self.level.value}: promo pool {self.subject} {self._stock()}"
        if self.metric is AlertMetric.AUTOMATION_ERRORS:
            reason = self.details.get("reason")
            return (
                f"{self.level.value}: trigger {self.subject}: "
                f"{format_value(self.metric, self.value)} in the last hour"
                + (f" ({reason})" if reason else "")
            )
        what = self.metric.value.replace("_", " ")
        where = "server" if self.scope is AlertScope.SERVER else f"{self.scope} {self.subject}"
        return (
            f"{self.level.value}: {what} {format_value(self.metric, self.value)} "
            f"(threshold {format_value(self.metric, self.threshold)}) on {where}, "
            f"last {self.window}"
        )

    def _stock(self) -> str:
        threshold = int(self.details.get("low_stock_threshold", self.threshold))
        if self.value > 0:
            left = format_value(self.metric, self.value)
            return f"is low on stock: {left} (threshold {threshold})"
        then = _EXHAUSTED.get(str(self.details.get("exhaustion")), "")
        return f"has no codes left{then} (threshold {threshold})"


# What sends get from an empty pool, by its exhaustion rule (domain.promo.Exhaustion).
_EXHAUSTED: Final = {
    "refuse": ": sends that need one are refused",
    "fallback": ": sends get its fallback text",
    "omit": ": sends leave the code out",
}


def format_value(metric: AlertMetric, value: float) -> str:
    if metric is AlertMetric.DELIVERY_P95:
        return f"{value:.0f} s"
    if metric is AlertMetric.DNS_FAILING:
        return f"{value:.0f} record(s) failing"
    if metric is AlertMetric.PROMO_STOCK:
        return f"{value:.0f} code(s) left"
    if metric is AlertMetric.AUTOMATION_ERRORS:
        return f"{value:.0f} error(s)"
    # Complaint rates live in tenths of a percent: two decimals are needed to see 0.08%.
    return f"{value * 100:.2f}%"


class Step(StrEnum):
    """What one evaluation does to one measurement."""

    OPEN = "open"  # crosses warning with no open alert: open and notify
    UPDATE = "update"  # open and still above warning (maybe another level): no new notice
    BELOW = "below"  # open and under warning now: the quiet period starts or goes on
    RESOLVE = "resolve"  # open and under warning for a whole window: resolve
    NOTHING = "nothing"


def next_step(
    level: AlertLevel | None, open_alert: Alert | None, now: datetime, quiet: timedelta
) -> Step:
    """Hysteresis: an alert opens at the warning level and resolves only once the measure
    has stayed under it for `quiet`, so a rate that hovers at the line does not flap. A
    `quiet` of zero resolves at the first measure under warning (RESOLVE_AT_ONCE)."""
    if open_alert is None:
        return Step.NOTHING if level is None else Step.OPEN
    if level is not None:
        return Step.UPDATE
    if quiet <= timedelta(0):
        return Step.RESOLVE
    since = open_alert.below_since
    if since is not None and now - since >= quiet:
        return Step.RESOLVE
    return Step.BELOW
