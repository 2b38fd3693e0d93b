"""Sending shaped per receiving provider: a destination is classed by its MX hosts, and each
provider gets a rate and a concurrency that halve when it answers with throttling replies and
climb back after a quiet period (additive increase, multiplicative decrease)."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from misiva.config import Settings
from misiva.domain.smtp import SMTPReply

log = logging.getLogger(__name__)

# MX host suffixes of the big mailbox providers, checked in order; everything else is its
# own provider, named by its MX hosts' domain ("other:example.net").
PROVIDER_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("google.com", "google"),
    ("googlemail.com", "google"),
    ("outlook.com", "microsoft"),  # also *.mail.protection.outlook.com (Microsoft 365)
    ("hotmail.com", "microsoft"),
    ("yahoodns.net", "yahoo"),  # Yahoo and AOL
    ("icloud.com", "apple"),
    ("apple.com", "apple"),
)
OTHER = "other"


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """One provider's ceiling (what a quiet provider gets) and floor (the slowest we go)."""

    rate: float  # SMTP transactions a second
    concurrency: int  # transactions in flight at once
    min_rate: float = 0.2
    min_concurrency: int = 1


# Per worker process. The big providers take a well-behaved sender's mail fast; Microsoft and
# Yahoo are known for throttling new or bursty senders, so they start lower. Postfix's
# default destination concurrency is 20.
DEFAULT_LIMITS: dict[str, ProviderLimits] = {
    "google": ProviderLimits(rate=100.0, concurrency=20),
    "microsoft": ProviderLimits(rate=50.0, concurrency=10),
    "yahoo": ProviderLimits(rate=30.0, concurrency=10),
    "apple": ProviderLimits(rate=30.0, concurrency=10),
    OTHER: ProviderLimits(rate=50.0, concurrency=10),
}


@dataclass(frozen=True, slots=True)
class ShapingConfig:
    limits: Mapping[str, ProviderLimits] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # The longest a delivery waits in the worker for its provider; past that it is held back
    # (re-queued) instead, so a throttled provider never fills the worker's slots.
    max_wait_seconds: float = 2.0
    # Throttling replies this close together count as one signal: the replies of every
    # transaction in flight when the provider started refusing arrive at about once.
    decrease_spacing_seconds: float = 1.0
    decrease_factor: float = 0.5
    # After this long without a throttling reply, the limits climb one step (a tenth of
    # the ceiling), and again after each further quiet period, up to the ceiling.
    quiet_seconds: float = 60.0
    # A held message comes back no later than this, however long its provider's queue.
    max_hold_seconds: float = 300.0


def limits_with(overrides: Mapping[str, Mapping[str, float]]) -> dict[str, ProviderLimits]:
    """The defaults, with the fields the settings give per provider replaced."""
    limits = dict(DEFAULT_LIMITS)
    for name, fields in overrides.items():
        base = limits.get(name, DEFAULT_LIMITS[OTHER])
        limits[name] = replace(
            base,
            rate=float(fields.get("rate", base.rate)),
            concurrency=int(fields.get("concurrency", base.concurrency)),
            min_rate=float(fields.get("min_rate", base.min_rate)),
            min_concurrency=int(fields.get("min_concurrency", base.min_concurrency)),
        )
    return limits


def shaping_config(settings: Settings) -> ShapingConfig:
    return ShapingConfig(
        limits=limits_with(settings.shaping_limits),
        max_wait_seconds=settings.shaping_max_wait_seconds,
        quiet_seconds=settings.shaping_quiet_seconds,
    )


def provider_of(mx_hosts: Sequence[str]) -> str:
    """`google`, `microsoft`, `yahoo`, `apple`, or `other:<the MX hosts' domain>`."""
    for host in mx_hosts:
        name = host.lower().rstrip(".")
        for suffix, provider in PROVIDER_SUFFIXES:
            if name == suffix or name.endswith("." + suffix):
                return provider
    return f"{OTHER}:{_mx_domain(mx_hosts[0]) if mx_hosts else ''}"


def _mx_domain(host: str) -> str:
    """mx1.mail.example.net → example.net; mx.example.co.uk → example.co.uk. A heuristic for
    the registered domain (two-letter country codes with a generic second level keep three
    labels): it only decides which hosts share a limit, so a rare miss costs little."""
    labels = host.lower().rstrip(".").split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


def is_throttling(reply: SMTPReply) -> bool:
    """A reply by which a provider asks us to slow down (rate or reputation): 421 (RFC 5321
    §3.8, closing: "try later"), 451 with a 4.7.x security/policy status (RFC 3463 §3.8,
    e.g. Microsoft's 4.7.500, Yahoo's TSS04), 450 4.2.1 (Gmail's "receiving mail at a
    rate that prevents additional messages"). Our own 421 stand-ins for connection failures
    and timeouts carry 4.4.x (network, RFC 3463 §3.5) and are not a provider's word."""
    status = _ENHANCED.match(reply.text)
    enhanced = status.groups() if status else None
    if reply.code == 421:
        return enhanced is None or enhanced[1] != "4"
    if reply.code == 451:
        return enhanced is not None and enhanced[1] == "7"
    if reply.code == 450:
        return enhanced is not None and enhanced[1:] == ("2", "1")
    return False


@dataclass(eq=False)
class _Lane:
    """One provider's current limits, its reservations and the deliveries waiting for it."""

    name: str
    ceiling: ProviderLimits
    rate: float
    concurrency: int
    in_flight: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    next_send: float = 0.0  # when the next transaction may start (GCRA's theoretical time)
    next_held: float = 0.0  # where the queue of held-back deliveries ends
    last_throttle: float = -math.inf
    last_decrease: float = -math.inf
    last_step: float = -math.inf


class Permit:
    """A delivery's right to send to its provider now, or the time to come back (`held`)."""

    __slots__ = ("_lane", "_shaper", "held_seconds", "provider")

    def __init__(
        self, shaper: Shaper, lane: _Lane | None, provider: str, held_seconds: float | None
    ) -> None:
        self._shaper = shaper
        self._lane = lane
        self.provider = provider
        self.held_seconds = held_seconds

    def release(self) -> None:
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.in_flight -= 1
            self._shaper._hand_over(lane)


class Shaper:
    """Every provider's lane in one worker process; `acquire` before a transaction, `observe`
    its replies after."""

    def __init__(
        self, config: ShapingConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config or ShapingConfig()
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}

    def limits(self, provider: str) -> tuple[float, int]:
        """The provider's current rate and concurrency (its ceiling if never seen)."""
        lane = self._lane(provider)
        return lane.rate, lane.concurrency

    async def acquire(self, provider: str) -> Permit:
        """Wait (at most max_wait_seconds) for a slot and a send time; else a held permit."""
        lane = self._lane(provider)
        if not await self._enter(lane):
            return Permit(self, None, provider, self._hold(lane))
        wait = self._reserve(lane)
        if wait is None:
            lane.in_flight -= 1
            self._hand_over(lane)
            return Permit(self, None, provider, self._hold(lane))
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except BaseException:
                lane.in_flight -= 1
                self._hand_over(lane)
                raise
        return Permit(self, lane, provider, None)

    def observe(self, provider: str, replies: Sequence[SMTPReply]) -> bool:
        """Feed a transaction's replies back; True when the provider was throttling us."""
        throttled = next((reply for reply in replies if is_throttling(reply)), None)
        if throttled is None:
            return False
        lane = self._lane(provider)
        now = self._clock()
        lane.last_throttle = now
        spacing = self._config.decrease_spacing_seconds
        if now - lane.last_decrease >= spacing:
            lane.last_decrease = now
            factor = self._config.decrease_factor
            rate = max(lane.ceiling.min_rate, lane.rate * factor)
            concurrency = max(lane.ceiling.min_concurrency, int(lane.concurrency * factor))
            if (rate, concurrency) != (lane.rate, lane.concurrency):
                log.warning(
                    "%s is throttling (%s): now %.2f/s, %d at once",
                    provider,
                    throttled,
                    rate,
                    concurrency,
                )
            lane.rate, lane.concurrency = rate, concurrency
        return True

    def _lane(self, provider: str) -> _Lane:
        lane = self._lanes.get(provider)
        if lane is None:
            kind = provider.partition(":")[0]  # other:example.net falls back to other
            ceiling = next(
                table[name]
                for table in (self._config.limits, DEFAULT_LIMITS)
                for name in (provider, kind, OTHER)
                if name in table
            )
            lane = self._lanes[provider] = _Lane(
                provider, ceiling, ceiling.rate, ceiling.concurrency
            )
        self._recover(lane)
        return lane

    def _recover(self, lane: _Lane) -> None:
        """One additive step per quiet period since the last throttling reply or step."""
        quiet = self._config.quiet_seconds
        since = max(lane.last_throttle, lane.last_step)
        if since == -math.inf:
            return
        steps = int((self._clock() - since) // quiet)
        if steps <= 0:
            return
        lane.last_step = since + steps * quiet
        ceiling = lane.ceiling
        if (lane.rate, lane.concurrency) == (ceiling.rate, ceiling.concurrency):
            return
        lane.rate = min(ceiling.rate, lane.rate + steps * ceiling.rate / 10)
        lane.concurrency = min(
            ceiling.concurrency,
            lane.concurrency + steps * max(1, round(ceiling.concurrency / 10)),
        )
        log.info(
            "%s is quiet again: now %.2f/s, %d at once", lane.name, lane.rate, lane.concurrency
        )
        self._hand_over(lane)

    async def _enter(self, lane: _Lane) -> bool:
        """Take one of the lane's concurrent slots, waiting in line a bounded time."""
        if lane.in_flight < lane.concurrency and not lane.waiting:
            lane.in_flight += 1
            return True
        # A line longer than the lane's concurrency would not move within max_wait anyway.
        if len(lane.waiting) >= lane.concurrency:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiting.append(turn)
        try:
            await asyncio.wait({turn}, timeout=self._config.max_wait_seconds)
        except BaseException:
            if turn.done() and not turn.cancelled():
                lane.in_flight -= 1  # handed a slot, then cancelled: pass it on
                self._hand_over(lane)
            raise
        finally:
            if not turn.done():
                lane.waiting.remove(turn)
                turn.cancel()
        # A turn handed over (done) carries its slot: `_hand_over` counted it in flight.
        return not turn.cancelled()

    def _hand_over(self, lane: _Lane) -> None:
        while lane.waiting and lane.in_flight < lane.concurrency:
            turn = lane.waiting.popleft()
            if not turn.done():
                lane.in_flight += 1
                turn.set_result(None)

    def _reserve(self, lane: _Lane) -> float | None:
        """GCRA: the seconds until this transaction may start, one second's worth of burst
        allowed; None when that is further than max_wait (no reservation is made)."""
        now = self._clock()
        interval = 1.0 / lane.rate
        tolerance = max(0.0, lane.rate - 1.0) * interval
        start = max(lane.next_send, now)
        wait = start - tolerance - now
        if wait > self._config.max_wait_seconds:
            return None
        lane.next_send = start + interval
        return max(0.0, wait)

    def _hold(self, lane: _Lane) -> float:
        """When a held-back delivery should come back: held ones queue behind each other at
        the lane's rate, so they return spread out rather than all at once."""
        now = self._clock()
        interval = 1.0 / lane.rate
        tolerance = max(0.0, lane.rate - 1.0) * interval
        slot = max(lane.next_held, lane.next_send - tolerance, now)
        lane.next_held = slot + interval
        # At least a second: a message claimed back sooner would only be held again.
        return min(max(slot - now, 1.0), self._config.max_hold_seconds)
