"""Render a UI page: one autoescaping Jinja2 environment over the package's templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from misiva.web.strings import TEXTS

# Built once: the templates are ours and never change while the process runs.
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Pages show who is signed in and carry CSRF tokens: no cache may keep them, and no frame
# may hold them (clickjacking).
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "same-origin",
}


def page(name: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(name).render(lang=lang, t=TEXTS[lang], **context)
    return HTMLResponse(html, status_code=status, headers=PRIVATE_HEADERS)
