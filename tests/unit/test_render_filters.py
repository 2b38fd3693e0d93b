"""Babel filters format money, numbers and dates in the message's locale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from misiva.domain.templates import TemplateContent
from misiva.render import TemplateError, compile_template, make_environment, render

NBSP = "\xa0"  # Babel keeps a number and its unit together with a no-break space.


def _format(expression: str, value: Any, locale: str) -> str:
    template = make_environment(html=False).from_string("{{ " + expression + " }}")
    return template.render(value=value, _locale=locale)


MONEY = [
    ("EUR in es", 1234.5, "EUR", "es", f"1.234,50{NBSP}€"),
    ("EUR in en", 1234.5, "EUR", "en", "€1,234.50"),
    ("USD in es", 1234.5, "USD", "es", f"1.234,50{NBSP}US$"),
    ("USD in en", 1234.5, "USD", "en", "$1,234.50"),
    ("MXN in es-MX", 1234.5, "MXN", "es-MX", "$1,234.50"),
    ("MXN in es", 1234.5, "MXN", "es", f"1.234,50{NBSP}MXN"),
    ("MXN in en", 1234.5, "MXN", "en", "MX$1,234.50"),
    ("a JSON string", "1234.50", "EUR", "es", f"1.234,50{NBSP}€"),
    ("a Decimal", Decimal("0.1"), "eur", "en", "€0.10"),
    ("an integer", 3, "EUR", "es", f"3,00{NBSP}€"),
    ("a float's shortest form", 0.1 + 0.2, "EUR", "en", "€0.30"),
    ("yen has no decimals", 1234.5, "JPY", "en", "¥1,234"),
    ("underscore locale", 1234.5, "EUR", "es_ES", f"1.234,50{NBSP}€"),
    ("unknown locale falls back to English", 1234.5, "EUR", "xx", "€1,234.50"),
    ("unknown region falls back to its language", 1234.5, "EUR", "es-ZZ", f"1.234,50{NBSP}€"),
]


@pytest.mark.parametrize(("case", "value", "currency", "locale", "expected"), MONEY)
def test_money(case: str, value: Any, currency: str, locale: str, expected: str) -> None:
    assert _format(f"value | money('{currency}')", value, locale) == expected, case


NUMBERS = [
    ("number", "value | number", 1234.5, "es", "1.234,5"),
    ("number", "value | number", 1234.5, "en", "1,234.5"),
    ("fixed decimals", "value | number(2)", 1234.5, "es", "1.234,50"),
    ("fixed decimals", "value | number(0)", 1234.5, "en", "1,234"),
    ("percent", "value | percent", 0.21, "es", f"21{NBSP}%"),
    ("percent", "value | percent", 0.21, "en", "21%"),
    ("percent with decimals", "value | percent(1)", 0.215, "es", f"21,5{NBSP}%"),
    ("Jinja's own filters stay", "value | round(1)", 2.25, "es", "2.2"),
]


@pytest.mark.parametrize(("case", "expression", "value", "locale", "expected"), NUMBERS)
def test_numbers(case: str, expression: str, value: Any, locale: str, expected: str) -> None:
    assert _format(expression, value, locale) == expected, case


DATES = [
    ("ISO date, medium", "value | date", "2026-03-05", "es", "5 mar 2026"),
    ("ISO date, medium", "value | date", "2026-03-05", "en", "Mar 5, 2026"),
    ("ISO date, long", "value | date('long')", "2026-03-05", "es", "5 de marzo de 2026"),
    ("ISO date, long", "value | date('long')", "2026-03-05", "en", "March 5, 2026"),
    ("a CLDR pattern", "value | date(\"d 'de' MMMM\")", "2026-03-05", "es", "5 de marzo"),
    ("a date object", "value | date('short')", date(2026, 3, 5), "es", "5/3/26"),
    ("date of a datetime", "value | date", "2026-03-05T23:30:00Z", "es", "5 mar 2026"),
    (
        "date in the reader's zone",
        "value | date(tz='America/Mexico_City')",
        "2026-03-06T03:30:00Z",
        "es-MX",
        "5 mar 2026",
    ),
    (
        "datetime, naive is UTC",
        "value | datetime",
        "2026-03-05T14:30:00",
        "es",
        "5 mar 2026, 14:30:00",
    ),
    (
        "datetime, in a zone",
        "value | datetime('short', tz='Europe/Madrid')",
        datetime(2026, 7, 5, 14, 30, tzinfo=UTC),
        "es",
        "5/7/26, 16:30",
    ),
    (
        "datetime in en",
        "value | datetime('short')",
        "2026-03-05T14:30:00+00:00",
        "en",
        "3/5/26, 2:30\u202fPM",
    ),
]


@pytest.mark.parametrize(("case", "expression", "value", "locale", "expected"), DATES)
def test_dates(case: str, expression: str, value: Any, locale: str, expected: str) -> None:
    assert _format(expression, value, locale) == expected, case


def test_a_rendered_template_formats_in_the_locale_it_is_rendered_for() -> None:
    compiled = compile_template(TemplateContent(subject="{{ total | money('EUR') }}"))
    assert render(compiled, {"total": 1234.5}, locale="es").subject == f"1.234,50{NBSP}€"
    assert render(compiled, {"total": 1234.5}, locale="en").subject == "€1,234.50"


@pytest.mark.parametrize("value", ["doce", True, [1]])
def test_a_value_that_is_not_a_number_is_a_template_error(value: Any) -> None:
    compiled = compile_template(TemplateContent(subject="Total {{ total | money('EUR') }}"))
    with pytest.raises(TemplateError) as raised:
        render(compiled, {"total": value}, locale="es")
    assert raised.value.errors[0].part == "Subject"
    assert raised.value.errors[0].line == 1
