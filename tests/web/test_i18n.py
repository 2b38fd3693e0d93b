"""Every text of the UI has its Spanish: Babel extracts them from the templates and the code
(`_()`, `N_()`, `ngettext()`) and each must be in the merged `es` catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

import misiva.web
from misiva.web.i18n import catalog, gettext_for

WEB = Path(misiva.web.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}


def ui_texts() -> set[str]:
    texts: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, METHODS, options_map=OPTIONS
    ):
        texts.update([message] if isinstance(message, str) else [m for m in message if m])
    return texts


def test_every_ui_text_has_its_spanish() -> None:
    spanish = catalog("es")
    missing = sorted(text for text in ui_texts() if not spanish.get(text))
    assert not missing, "texts without Spanish in web/locale/es/LC_MESSAGES/*.po:\n" + "\n".join(
        missing
    )


def test_the_catalogue_translates_and_english_is_the_source() -> None:
    assert gettext_for("es").gettext("Sign in") == "Entrar"
    assert gettext_for("en").gettext("Sign in") == "Sign in"
    assert gettext_for("xx").gettext("Sign in") == "Sign in"
