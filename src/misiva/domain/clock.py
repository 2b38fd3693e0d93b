"""Time and identifiers from one place, so tests can inject a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The system clock, always timezone-aware UTC (ARCHITECTURE: time is UTC)."""
    return datetime.now(UTC)


# A step back shorter than this only delays what waits by as long: not worth acting on. NTP
# slews differences under 128 ms and steps larger ones; a loop's round may also be slow.
CLOCK_STEP_SECONDS = 30.0


class ClockWatch:
    """Notices the wall clock stepping (an NTP correction, `date -s`) against the monotonic
    one. After a step back, what a queue scheduled by the old clock waits the step's length
    too long (an hour's step would hold every retry an hour); after a step forward, leases
    taken by the old clock run out early, and mail still in flight looks abandoned. A loop
    that sees a step corrects both, then follows its schedule from the new clock."""

    def __init__(self, clock: Clock, threshold_seconds: float = CLOCK_STEP_SECONDS) -> None:
        self._clock = clock
        self._threshold = threshold_seconds
        self._offset: float | None = None

    def step(self) -> float:
        """Seconds the wall clock jumped since the last call: negative back, positive
        forward, 0.0 for less than the threshold (no step)."""
        offset = self._clock().timestamp() - time.monotonic()
        previous, self._offset = self._offset, offset
        if previous is None or abs(offset - previous) < self._threshold:
            return 0.0
        return offset - previous
