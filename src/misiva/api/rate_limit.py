"""Wrong server tokens per client address: past a limit, the API answers 429 to that address.

A server token carries 122 random bits, so guessing one is hopeless; the limit is there so
that a flood of wrong tokens (a guesser, or a misconfigured app in a retry loop) costs one
dictionary look-up each instead of a database query, and shows up as 429s in its logs.

While an address is locked out, *every* token it presents is refused, valid or not: were a
valid token let through, a 200 among the 429s would tell a guesser it had found one, and the
lock would limit nothing. Requests with valid tokens never count, and a success never clears
the count (an attacker holding one valid token must not reset it between guesses).
"""

from __future__ import annotations

from misiva.accounts.throttle import AuthGuard
from misiva.domain.errors import RateLimited, Unauthorized
from misiva.ingest.tenants import ServerContext, ServerDirectory

TOO_MANY_FAILURES = (
    "Too many requests with an invalid Server token from your address; "
    "wait a minute before trying again."
)


async def authenticate_limited(
    directory: ServerDirectory, guard: AuthGuard, address: str, token: str
) -> ServerContext:
    """The server of `token`, unless `address` is locked out (RateLimited); a wrong token
    counts against the address and raises Unauthorized as before."""
    if not token.strip():
        # No token is no guess: a client not yet configured gets its 401 and is not counted.
        return await directory.authenticate(token)
    if guard.locked(address):
        raise RateLimited(TOO_MANY_FAILURES)
    try:
        return await directory.authenticate(token)
    except Unauthorized:
        guard.failed(address)
        raise
