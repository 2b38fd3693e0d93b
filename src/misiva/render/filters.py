"""Locale-aware formatting filters for templates (money, numbers, percentages, dates), by Babel."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
)
from jinja2 import pass_context
from jinja2.runtime import Context

# The render context carries the message's locale under this private name; filters read it.
LOCALE_VAR = "_locale"
# Used when a message's locale is unknown to Babel (a typo in a contact's profile must not
# stop the send) and its language is unknown too.
FALLBACK_LOCALE = "en"


@lru_cache(maxsize=256)
def babel_locale(tag: str) -> Locale:
    """The Babel locale for `es-MX`, `es_MX` or `ES`; else its language; else English."""
    normalised = tag.strip().replace("-", "_")
    for candidate in (normalised, normalised.split("_")[0], FALLBACK_LOCALE):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("the fallback locale always parses")  # pragma: no cover


def _locale_of(context: Context) -> Locale:
    tag = context.get(LOCALE_VAR)
    return babel_locale(tag if isinstance(tag, str) and tag else FALLBACK_LOCALE)


def _number(value: Any) -> Decimal | int:
    """Models come from JSON: accept numbers and numeric strings, refuse everything else."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, float):
        # repr() is the shortest exact decimal: 0.1 formats as 0.1, not 0.1000000000000000055.
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value.strip())
    raise TypeError(f"cannot format a {type(value).__name__} as a number")


@lru_cache(maxsize=256)
def _fixed_pattern(locale: Locale, kind: str, decimals: int) -> NumberPattern:
    # The locale's own pattern (grouping, signs, % placement) with a fixed number of decimals.
    base = locale.percent_formats[None] if kind == "percent" else locale.decimal_formats[None]
    pattern: NumberPattern = copy.copy(base)
    pattern.frac_prec = (decimals, decimals)
    return pattern


@lru_cache(maxsize=512)
def _currency_pattern(locale: Locale, currency: str) -> NumberPattern | None:
    """The locale's currency pattern with the symbol and the currency's digits already in:
    Babel's format_currency looks both up (and the currency's plural name) on every call."""
    base: NumberPattern = locale.currency_formats["standard"]
    if any("¤¤" in affix for affix in (*base.prefix, *base.suffix)):
        return None  # a pattern with the ISO code or the name: leave it to Babel
    symbol = get_currency_symbol(currency, locale)
    pattern: NumberPattern = copy.copy(base)
    positive, negative = base.prefix
    pattern.prefix = (positive.replace("¤", symbol), negative.replace("¤", symbol))
    positive, negative = base.suffix
    pattern.suffix = (positive.replace("¤", symbol), negative.replace("¤", symbol))
    digits = get_currency_precision(currency)
    pattern.frac_prec = (digits, digits)
    return pattern


# A message formats the same amounts in its HTML and its text, and shops repeat prices:
# formatted values are kept, keyed by value, currency and locale.
@lru_cache(maxsize=4096)
def _money_text(value: Decimal | int, currency: str, locale: Locale) -> str:
    pattern = _currency_pattern(locale, currency)
    if pattern is None:
        return format_currency(value, currency, locale=locale)
    return str(pattern.apply(value, locale))


@pass_context
def money(context: Context, value: Any, currency: str) -> str:
    """`{{ 1234.5 | money('EUR') }}`: `1.234,50 €` in es, `€1,234.50` in en."""
    return _money_text(_number(value), currency.upper(), _locale_of(context))


@pass_context
def number(context: Context, value: Any, decimals: int | None = None) -> str:
    """`{{ 1234.5 | number }}`: `1.234,5` in es; `number(2)` always shows two decimals."""
    locale = _locale_of(context)
    if decimals is None:
        return format_decimal(_number(value), locale=locale)
    return str(_fixed_pattern(locale, "decimal", decimals).apply(_number(value), locale))


@pass_context
def percent(context: Context, value: Any, decimals: int | None = None) -> str:
    """`{{ 0.21 | percent }}`: `21 %` in es, `21%` in en (the value is a ratio)."""
    locale = _locale_of(context)
    if decimals is None:
        return format_percent(_number(value), locale=locale)
    return str(_fixed_pattern(locale, "percent", decimals).apply(_number(value), locale))


def _moment(value: Any) -> datetime | date:
    """Dates come from JSON as ISO 8601 strings ("2026-03-05", "2026-03-05T14:30:00Z")."""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        text = value.strip()
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    raise TypeError(f"cannot format a {type(value).__name__} as a date")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _in_zone(moment: datetime | date, tz: str | None) -> datetime | date:
    if tz is None or not isinstance(moment, datetime):
        return moment
    # A naive datetime is taken as UTC, as Babel does, before moving it to the reader's zone.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=_zone("UTC"))
    return aware.astimezone(_zone(tz))


@lru_cache(maxsize=1024)
def _date_text(moment: datetime | date, format: str, locale: Locale) -> str:
    return str(format_date(moment, format=format, locale=locale))


@lru_cache(maxsize=1024)
def _datetime_text(moment: datetime, format: str, tz: str | None, locale: Locale) -> str:
    tzinfo = _zone(tz) if tz else None
    return str(format_datetime(moment, format=format, tzinfo=tzinfo, locale=locale))


@pass_context
def format_date_filter(
    context: Context, value: Any, format: str = "medium", tz: str | None = None
) -> str:
    """`{{ order.date | date }}`: `5 mar 2026` in es; format is short/medium/long/full or CLDR."""
    return _date_text(_in_zone(_moment(value), tz), format, _locale_of(context))


@pass_context
def format_datetime_filter(
    context: Context, value: Any, format: str = "medium", tz: str | None = None
) -> str:
    """`{{ shipped_at | datetime('short', tz='Europe/Madrid') }}`; naive values are UTC."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return _datetime_text(moment, format, tz, _locale_of(context))


FILTERS: dict[str, Any] = {
    "money": money,
    "number": number,
    "percent": percent,
    "date": format_date_filter,
    "datetime": format_datetime_filter,
}
