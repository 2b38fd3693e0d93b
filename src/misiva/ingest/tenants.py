"""Which server a token belongs to, with its streams and sending domains, cached briefly."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from misiva.domain.enums import StreamType
from misiva.domain.errors import NotFound, Unauthorized
from misiva.domain.ids import hash_token
from misiva.domain.records import SendingDomain, Server, Stream
from misiva.storage import Database
from misiva.storage import domains as domain_store
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store

MISSING_TOKEN = "Request does not contain a valid Server token."
WRONG_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. "
    "Please verify that you are using a valid token."
)


@dataclass(frozen=True, slots=True)
class ServerContext:
    """A server as a request needs it: who it is, where it may send from and on which streams."""

    server: Server
    sendable_streams: frozenset[str]
    domains: dict[str, SendingDomain]
    # stream id -> the stream, with its tracking defaults and subscription settings.
    streams: dict[str, Stream] = field(default_factory=dict)

    @property
    def opt_in_streams(self) -> frozenset[str]:
        """Streams that send only to confirmed subscribers."""
        return frozenset(k for k, s in self.streams.items() if s.subscriptions.require_opt_in)


class ServerDirectory:
    """Token → ServerContext. A short cache saves one query per request on the hot path."""

    def __init__(self, db: Database, ttl_seconds: float = 10.0) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ServerContext]] = {}

    async def authenticate(self, token: str | None) -> ServerContext:
        if not token or not token.strip():
            raise Unauthorized(MISSING_TOKEN)
        key = hash_token(token)
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self._db.reading() as tx:
            server = await server_store.find_server_by_token_hash(tx, key)
        if server is None:
            raise Unauthorized(WRONG_TOKEN)
        return await self._load(key, server)

    async def refresh(self, context: ServerContext) -> ServerContext:
        """Reload a server's domains and streams now (e.g. a domain added a moment ago)."""
        fresh = await self._load(None, context.server)
        for key, (expires, cached) in list(self._cache.items()):
            if cached.server.id == fresh.server.id:
                self._cache[key] = (expires, fresh)
        return fresh

    def forget(self, token_hash: str) -> None:
        """Drop a revoked token at once, so this process refuses it now, not after the TTL
        (other API processes refuse it when their own cache entry expires)."""
        self._cache.pop(token_hash, None)

    async def by_name(self, name: str) -> ServerContext:
        """The CLI's way in: an operator names the server instead of presenting its token."""
        async with self._db.reading() as tx:
            server = await server_store.find_server_by_name(tx, name)
        if server is None:
            raise NotFound(f"no server named {name!r}; create it with `misiva servers create`")
        return await self._load(None, server)

    async def by_id(self, server_id: int) -> ServerContext:
        """For work a recipient starts (an unsubscribe): the server their link names."""
        async with self._db.reading() as tx:
            server = await server_store.get_server(tx, server_id)
        if server is None:
            raise NotFound(f"no server with ID {server_id}")
        return await self._load(None, server)

    async def _load(self, key: str | None, server: Server) -> ServerContext:
        async with self._db.reading() as tx:
            streams = await stream_store.list_streams(tx, server.id)
            domains = await domain_store.list_domains(tx, server.id)
        context = ServerContext(
            server=server,
            sendable_streams=frozenset(
                s.stream_id
                for s in streams
                if s.stream_type is not StreamType.INBOUND and s.archived_at is None
            ),
            domains={d.name: d for d in domains},
            streams={s.stream_id: s for s in streams},
        )
        if key is not None:
            self._cache[key] = (time.monotonic() + self._ttl, context)
        return context
