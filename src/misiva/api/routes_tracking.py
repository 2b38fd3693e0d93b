"""Tracking endpoints: the open pixel and the click redirect, by signed token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from misiva.api.auth import deps_of
from misiva.tracking.pixel import CONTENT_TYPE, NO_CACHE_HEADERS, TRANSPARENT_GIF

router = APIRouter(tags=["tracking"], include_in_schema=False)


@router.get("/t/o/{token}")
async def open_pixel(request: Request, token: str) -> Response:
    # The image is served whatever the token says: a broken image in an email helps nobody.
    await deps_of(request).engagement.open(token, request.headers.get("user-agent"))
    return Response(TRANSPARENT_GIF, media_type=CONTENT_TYPE, headers=dict(NO_CACHE_HEADERS))


@router.get("/t/c/{token}")
async def click(request: Request, token: str) -> Response:
    link = await deps_of(request).engagement.click(token, request.headers.get("user-agent"))
    if link is None:
        # A forged or altered token redirects nowhere (no open redirect).
        return Response("Not found", status_code=404, media_type="text/plain")
    return RedirectResponse(link, status_code=302)
