"""The UI's languages: English source texts, Spanish from gettext catalogues (Babel).

Texts are written in English where they are used (`_("Sign in")` in a template, `N_()` in
Python for texts translated later). Spanish lives in `locale/es/LC_MESSAGES/*.po`, one
catalogue per area of the UI (core, studio, dashboard, operations...) so that each area's
texts sit beside each other; they are merged into one set of translations at start.
`tests/web/test_i18n.py` extracts every text with Babel and fails on one without Spanish.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final = ("en", "es")


def N_(text: str) -> str:
    return text


def language(tag: str | None) -> str:
    """ "es" for any Spanish tag (es, es-MX, an Accept-Language list led by es), else "en"."""
    return "es" if (tag or "").strip().lower()[:2] == "es" else "en"


def catalog(lang: str) -> Catalog:
    """Every catalogue of a language merged into one (later files win on a repeated text)."""
    merged = Catalog(locale=lang, domain="misiva")
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """Compiled once per process: the catalogues are ours and never change while it runs."""
    if lang == "en":
        return gettext.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, catalog(lang))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(lang: str) -> gettext.NullTranslations:
    return translations(lang if lang in LANGUAGES else "en")
