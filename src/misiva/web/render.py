"""Render a UI page: one autoescaping Jinja2 environment over the package's templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from misiva.web import labels
from misiva.web.i18n import gettext_for

# Built once: the templates are ours and never change while the process runs.
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals["labels"] = labels
# Pages show who is signed in and carry CSRF tokens: no cache may keep them, and no frame
# may hold them (clickjacking). Scripts only from Misiva itself (/ui/static), never inline.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "same-origin",
}


def render(name: str, lang: str, **context: Any) -> str:
    """A template's HTML in a language: `_` and `ngettext` translate its texts."""
    texts = gettext_for(lang)
    return _ENV.get_template(name).render(
        lang=lang, _=texts.gettext, ngettext=texts.ngettext, **context
    )


def page(name: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, lang, **context), status_code=status, headers=PRIVATE_HEADERS)
