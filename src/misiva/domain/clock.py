"""Time and identifiers from one place, so tests can inject a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The system clock, always timezone-aware UTC (ARCHITECTURE: time is UTC)."""
    return datetime.now(UTC)
