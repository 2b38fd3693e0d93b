"""Choose which locale variant of a template a message gets."""

from __future__ import annotations

from collections.abc import Collection

from misiva.domain.templates import DEFAULT_VARIANT


def normalise_locale(tag: str) -> str:
    """`es_MX`, `ES-mx` and `es-MX` are one locale: `es-mx`."""
    return tag.strip().replace("_", "-").lower()


def choose_variant(available: Collection[str], *candidates: str | None, default_locale: str) -> str:
    """The variant for a message, given the locales asked for in order of preference
    (the send's, then the contact's); None or empty candidates are skipped.

    For each candidate, then for the server's default locale:
      1. the variant of exactly that locale (`es-MX`; case and `_`/`-` do not matter);
      2. the variant of its language (`es-MX` → `es`);
      3. another variant of that language (`es` → `es-AR`, the first in sorted order),
         because a reader of Spanish is better served in any Spanish than in English.
    Then the DEFAULT_VARIANT ("default"), then the first variant in sorted order.
    Returns the variant's key as stored."""
    if not available:
        raise ValueError("a template has at least one variant")
    keys = sorted(available)
    by_locale = {normalise_locale(key): key for key in reversed(keys)}
    for candidate in (*candidates, default_locale):
        if not candidate:
            continue
        wanted = normalise_locale(candidate)
        language = wanted.split("-")[0]
        if wanted in by_locale:
            return by_locale[wanted]
        if language in by_locale:
            return by_locale[language]
        for key in keys:
            if normalise_locale(key).split("-")[0] == language:
                return key
    return by_locale.get(DEFAULT_VARIANT, keys[0])
