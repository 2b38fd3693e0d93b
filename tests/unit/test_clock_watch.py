"""ClockWatch: a step of the wall clock against the monotonic one, in either direction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from misiva.domain.clock import CLOCK_STEP_SECONDS, ClockWatch


class _Wall:
    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


def test_steps_back_and_forward_are_seen_once_each() -> None:
    wall = _Wall()
    watch = ClockWatch(wall)
    assert watch.step() == 0.0  # the first call only takes the measure
    assert watch.step() == 0.0
    wall.shift = timedelta(hours=-1)
    assert -3601 < watch.step() < -3599
    assert watch.step() == 0.0
    wall.shift = timedelta(minutes=-45)
    assert 899 < watch.step() < 901


def test_a_small_correction_is_not_a_step() -> None:
    wall = _Wall()
    watch = ClockWatch(wall)
    watch.step()
    wall.shift = timedelta(seconds=-(CLOCK_STEP_SECONDS - 5))
    assert watch.step() == 0.0
