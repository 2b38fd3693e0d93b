"""Create servers: each gets a token (shown once) and its default `outbound` and `broadcast`
streams; more tokens are made (each shown once) and revoked later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import StreamType
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.ids import hash_token, new_server_secret, new_server_token
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.records import Server
from misiva.domain.subscriptions import BROADCAST_DEFAULTS, DEFAULT_BROADCAST_STREAM
from misiva.storage import Database
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store

MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class NewServer:
    server: Server
    # The only time the token exists outside the caller's hands: only its hash is stored.
    api_token: str


async def create_server(db: Database, name: str, *, clock: Clock = utcnow) -> NewServer:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidRequest(f"a server name must have 1 to {MAX_NAME} characters")
    token = new_server_token()
    now = clock()
    async with db.transaction() as tx:
        if await server_store.find_server_by_name(tx, name) is not None:
            raise Conflict(f"a server named {name!r} already exists")
        server = await server_store.insert_server(tx, name, now, new_server_secret())
        await server_store.insert_token(tx, server.id, hash_token(token), now)
        await stream_store.insert_stream(
            tx,
            server.id,
            DEFAULT_STREAM,
            "Default Transactional Stream",
            StreamType.TRANSACTIONAL,
            now,
        )
        await stream_store.insert_stream(
            tx,
            server.id,
            DEFAULT_BROADCAST_STREAM,
            "Default Broadcast Stream",
            StreamType.BROADCASTS,
            now,
            settings=BROADCAST_DEFAULTS,
        )
    return NewServer(server=server, api_token=token)


async def configure_server(
    db: Database,
    name: str,
    *,
    default_locale: str | None = None,
    brand: dict[str, str] | None = None,
) -> Server:
    """Set what templates see as `server`: the default locale and brand settings (merged)."""
    async with db.transaction() as tx:
        server = await server_store.find_server_by_name(tx, name)
        if server is None:
            raise NotFound(f"no server named {name!r}")
        merged = None if brand is None else {**server.brand, **brand}
        if merged is not None:
            merged = {k: v for k, v in merged.items() if v != ""}
        await server_store.update_server_settings(
            tx, server.id, default_locale=default_locale, brand=merged
        )
        updated = await server_store.find_server_by_name(tx, name)
    assert updated is not None
    return updated


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known of a token after it was shown: its number and when it was made."""

    id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewToken:
    info: TokenInfo
    # Shown once, to the person who made it; only its hash is stored.
    token: str


async def list_tokens(db: Database, server_id: int) -> list[TokenInfo]:
    async with db.reading() as tx:
        return [TokenInfo(i, at) for i, at in await server_store.list_tokens(tx, server_id)]


async def create_token(db: Database, server_id: int, *, clock: Clock = utcnow) -> NewToken:
    """Another token for the server (to rotate one: make the new one, then revoke the old)."""
    token = new_server_token()
    now = clock()
    async with db.transaction() as tx:
        if await server_store.get_server(tx, server_id) is None:
            raise NotFound(f"no server with ID {server_id}")
        await server_store.insert_token(tx, server_id, hash_token(token), now)
        token_id = await server_store.new_token_id(tx, server_id, hash_token(token))
    return NewToken(TokenInfo(token_id, now), token)


async def revoke_token(db: Database, server_id: int, token_id: int) -> str:
    """Delete a token: the API refuses it from then on. Returns its hash, for the caches of
    server contexts to forget (ServerDirectory.forget)."""
    async with db.transaction() as tx:
        token_hash = await server_store.delete_token(tx, server_id, token_id)
    if token_hash is None:
        raise NotFound(f"No API token {token_id} on this server.")
    return token_hash
