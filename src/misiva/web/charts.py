"""Chart geometry for server-rendered inline SVG: bars in a fixed viewBox, no script, no
library, nothing fetched from elsewhere. Templates draw the shapes; the numbers they stand
for are always in a table beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 300
HEIGHT: Final = 80
GAP: Final = 1.0


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int


def bars(values: Sequence[int], width: float = WIDTH, height: float = HEIGHT) -> list[Bar]:
    """One bar per value, side by side, scaled to the largest; a zero is a hairline so that
    the chart's rhythm still shows where nothing happened."""
    if not values:
        return []
    top = max(values) or 1
    step = width / len(values)
    drawn = []
    for index, value in enumerate(values):
        tall = max(height * value / top, 0.5)
        drawn.append(
            Bar(
                x=round(index * step + GAP / 2, 2),
                y=round(height - tall, 2),
                width=round(max(step - GAP, 0.5), 2),
                height=round(tall, 2),
                value=value,
            )
        )
    return drawn


def share(value: int, top: int) -> float:
    """A value's width, in percent of the largest one's (horizontal bars in tables)."""
    return round(100 * value / top, 1) if top > 0 else 0.0
