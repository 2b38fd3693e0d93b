"""The variant a message gets: the send's locale, the contact's, the server's, then default."""

from __future__ import annotations

import pytest

from misiva.render import choose_variant

CHAIN = [
    ("the send's locale, exactly", {"es", "es-MX", "en"}, ("es-MX", "en"), "en", "es-MX"),
    ("case and underscore do not matter", {"es-MX", "en"}, ("ES_mx", None), "en", "es-MX"),
    ("the key comes back as stored", {"es_MX", "en"}, ("es-MX", None), "en", "es_MX"),
    ("the send's language before the contact's locale", {"es", "en"}, ("es-MX", "en"), "en", "es"),
    ("another region of the language", {"es-AR", "en"}, ("es-MX", "en"), "en", "es-AR"),
    ("a language finds a region", {"es-MX", "en"}, ("es", None), "en", "es-MX"),
    ("no send locale: the contact's", {"es", "en"}, (None, "en-GB"), "es", "en"),
    ("empty candidates are skipped", {"es", "en"}, ("", None), "en", "en"),
    ("then the server default", {"es", "en"}, ("fr", "de"), "es", "es"),
    ("the server default's language", {"es", "en"}, ("fr",), "en-US", "en"),
    ("then the default variant", {"default", "en"}, ("fr",), "es", "default"),
    ("then the first in sorted order", {"pt", "en"}, ("fr",), "es", "en"),
    ("a single variant", {"default"}, ("es",), "es", "default"),
]


@pytest.mark.parametrize(("case", "available", "candidates", "default", "expected"), CHAIN)
def test_choose_variant(
    case: str,
    available: set[str],
    candidates: tuple[str | None, ...],
    default: str,
    expected: str,
) -> None:
    assert choose_variant(available, *candidates, default_locale=default) == expected, case


def test_a_template_without_variants_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        choose_variant(set(), "es", default_locale="es")
