"""Forms posted to the UI: read them (urlencoded, bounded) and check their CSRF token."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import PlainTextResponse, Response

# A template's HTML is the largest thing a person posts; Postmark caps a whole message at 10 MB,
# a template body sits well under this.
MAX_FORM_BYTES = 2 * 1024 * 1024


class Form:
    """An urlencoded form: `get` the first value of a field, `all` of them."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name, ()))

    def __contains__(self, name: object) -> bool:
        return name in self._fields


async def read_form(request: Request) -> Form:
    """The posted form; anything too large or not urlencoded reads as empty (and so fails
    its CSRF check)."""
    body = await request.body()
    kind = request.headers.get("content-type", "")
    if len(body) > MAX_FORM_BYTES or not kind.startswith("application/x-www-form-urlencoded"):
        return Form({})
    return Form(
        parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=500)
    )


def same(expected: str, given: str) -> bool:
    """Constant-time, and on bytes: compare_digest refuses non-ASCII text with a TypeError,
    and a posted token is whatever a client sends."""
    return hmac.compare_digest(expected.encode(), given.encode())


async def checked_form(request: Request, csrf_token: str) -> Form | None:
    """The form if it carries the session's CSRF token (field `csrf` or header
    `X-CSRF-Token`, for the studio's preview requests), else None."""
    form = await read_form(request)
    given = form.get("csrf") or request.headers.get("x-csrf-token", "")
    return form if given and same(csrf_token, given) else None


def expired_form() -> Response:
    """A post without the session's CSRF token: another site's form, or a stale page."""
    return PlainTextResponse("The form expired: reload the page and try again.", status_code=400)
