"""Who is calling: the X-Postmark-Server-Token header, looked up case-insensitively."""

from __future__ import annotations

from fastapi import Request

from misiva.api.deps import TEST_TOKEN, TOKEN_HEADER, ApiDeps, Caller
from misiva.api.rate_limit import authenticate_limited
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
    deps = deps_of(request)
    # The peer's address, not X-Forwarded-For: a client could name any address there and
    # so escape its own limit (behind a proxy, every client shares the proxy's limit).
    address = request.client.host if request.client else "unknown"
    context = await authenticate_limited(deps.directory, deps.auth_failures, address, token)
    return Caller(token=token, context=context)


async def server_caller(request: Request) -> Caller:
    """A real server: the test token has no data to read."""
    found = await caller(request)
    if found.is_test:
        raise Unauthorized("The test token POSTMARK_API_TEST can only send, not read.")
    return found
