"""Failed AUTH attempts lock an address out for a window, and only that address."""

from __future__ import annotations

from misiva.accounts import throttle as guard_module
from misiva.accounts.throttle import AuthGuard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_locks_the_address_for_the_window_only() -> None:
    clock = Clock()
    guard = AuthGuard(3, 60, clock=clock)
    for _ in range(2):
        guard.failed("203.0.113.7")
    assert not guard.locked("203.0.113.7")
    guard.failed("203.0.113.7")
    assert guard.locked("203.0.113.7") and not guard.locked("198.51.100.1")
    clock.now += 61
    assert not guard.locked("203.0.113.7")


def test_a_success_forgets_the_failures() -> None:
    guard = AuthGuard(2, 60, clock=Clock())
    guard.failed("203.0.113.7")
    guard.succeeded("203.0.113.7")
    guard.failed("203.0.113.7")
    assert not guard.locked("203.0.113.7")


def test_the_table_stays_bounded() -> None:
    clock = Clock()
    guard = AuthGuard(1, 60, clock=clock)
    limit = guard_module.MAX_TRACKED
    for n in range(limit + 5):
        clock.now += 0.001
        guard.failed(f"2001:db8::{n:x}")
    assert len(guard._failures) == limit
    # The oldest address was forgotten; the newest is still locked out.
    assert not guard.locked("2001:db8::0")
    assert guard.locked(f"2001:db8::{limit + 4:x}")
