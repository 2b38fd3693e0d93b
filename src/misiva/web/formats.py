"""Numbers, percentages, durations and money as the reader's language writes them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent

from misiva.web.i18n import N_

_UNITS = ((86400, N_("d")), (3600, N_("h")), (60, N_("min")), (1, N_("s")))


@dataclass(frozen=True, slots=True)
class Formats:
    """Numbers as a reader of `lang` writes them (1,234.5 or 1.234,5)."""

    lang: str

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.lang)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        # Complaint rates live in hundredths of a percent: show two decimals below 1%.
        pattern = "#,##0.00%" if value < 0.01 else "#,##0.0%"
        return format_percent(value, pattern, locale=self.lang)

    def duration(self, seconds: float | None) -> tuple[str, str] | None:
        """(number, unit key) of a latency bound; the template translates the unit."""
        if seconds is None:
            return None
        if math.isinf(seconds):
            return ("∞", "")
        for size, unit in _UNITS:
            if seconds >= size:
                return (format_decimal(round(seconds / size, 1), locale=self.lang), unit)
        return (format_decimal(seconds, locale=self.lang), "s")

    def money(self, value: Decimal, currency: str) -> str:
        return format_currency(value, currency, locale=self.lang)

    def p_value(self, value: float) -> str:
        return format_decimal(value, "0.000", locale=self.lang) if value >= 0.001 else "< 0.001"
