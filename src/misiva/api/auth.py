"""Who is calling: the X-Postmark-Server-Token header, looked up case-insensitively."""

from __future__ import annotations

from fastapi import Request

from misiva.api.deps import TEST_TOKEN, TOKEN_HEADER, ApiDeps, Caller
from misiva.domain.errors import Unauthorized


def deps_of(request: Request) -> ApiDeps:
    deps = request.app.state.deps
    assert isinstance(deps, ApiDeps)
    return deps


async def caller(request: Request) -> Caller:
    """A server's token, or Postmark's test token (which validates and delivers nothing)."""
    token = (request.headers.get(TOKEN_HEADER) or "").strip()
    if token.upper() == TEST_TOKEN:
        return Caller(token=token, context=None)
    context = await deps_of(request).directory.authenticate(token)
    return Caller(token=token, context=context)


async def server_caller(request: Request) -> Caller:
    """A real server: the test token has no data to read."""
    found = await caller(request)
    if found.is_test:
        raise Unauthorized("The test token POSTMARK_API_TEST can only send, not read.")
    return found
