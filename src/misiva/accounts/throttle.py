"""Failed sign-ins per client address (SMTP AUTH, the web UI's login): past a limit, the
address waits out a lockout."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Far more addresses than a guessing attack from a few hosts uses; bounded so that a
# flood of one-off addresses cannot grow the table without end.
MAX_TRACKED = 10_000


class AuthGuard:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def locked(self, address: str) -> bool:
        """Whether `address` made `limit` failed attempts within the last window."""
        failures = self._recent(address)
        return failures is not None and len(failures) >= self._limit

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= MAX_TRACKED:
            # Forget the address whose last failure is oldest.
            oldest = min(self._failures, key=lambda a: self._failures[a][-1])
            del self._failures[oldest]
        self._failures.setdefault(address, deque(maxlen=self._limit)).append(self._clock())

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures
