"""Create servers: each gets a token (shown once) and its default `outbound` and `broadcast`
streams."""

from __future__ import annotations

from dataclasses import dataclass

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
