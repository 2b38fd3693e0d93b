"""What the operations pages share: their notices after a change, a refused form, and
refreshing the server context the API caches after a change to streams or domains."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from misiva.web.deps import WebDeps
from misiva.web.i18n import gettext_for


def after_change(server_id: int, section: str, done: str, **query: str) -> Response:
    """Post/redirect/get: back to the section's page, saying what was `done`."""
    params = urlencode({"done": done, **query})
    return RedirectResponse(f"/ui/servers/{server_id}/{section}?{params}", status_code=303)


def notice(request: Request, notices: dict[str, str], lang: str) -> str | None:
    """The translated notice a redirect's `done` names (unknown names show nothing)."""
    text = notices.get(request.query_params.get("done", ""))
    return gettext_for(lang).gettext(text) if text else None


async def refresh_server(deps: WebDeps, server_id: int) -> None:
    """Sends read streams and domains from the server's cached context (as the API's own
    stream routes do): reload it so a change shows on the next send, not after the TTL."""
    await deps.directory.refresh(await deps.directory.by_id(server_id))
