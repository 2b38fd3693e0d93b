"""Servers (tenants) and their hashed API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.records import Server
from misiva.storage.engine import Tx
from misiva.storage.tables import messages, server_tokens, servers

_COLUMNS = (
    servers.c.id,
    servers.c.name,
    servers.c.created_at,
    servers.c.default_locale,
    servers.c.brand,
    servers.c.secret,
)


def _server(row: Any) -> Server:
    return Server(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        default_locale=row.default_locale,
        brand=dict(row.brand),
        secret=row.secret,
    )


async def insert_server(tx: Tx, name: str, now: datetime, secret: str = "") -> Server:
    result = await tx.execute(
        sa.insert(servers)
        .values(name=name, created_at=now, default_locale="en", brand={}, secret=secret)
        .returning(*_COLUMNS)
    )
    return _server(result.one())


async def find_server_by_name(tx: Tx, name: str) -> Server | None:
    result = await tx.execute(sa.select(*_COLUMNS).where(servers.c.name == name))
    row = result.one_or_none()
    return _server(row) if row else None


async def get_server(tx: Tx, server_id: int) -> Server | None:
    result = await tx.execute(sa.select(*_COLUMNS).where(servers.c.id == server_id))
    row = result.one_or_none()
    return _server(row) if row else None


async def insert_token(tx: Tx, server_id: int, token_hash: str, now: datetime) -> None:
    await tx.execute(
        sa.insert(server_tokens).values(server_id=server_id, token_hash=token_hash, created_at=now)
    )


async def find_server_by_token_hash(tx: Tx, token_hash: str) -> Server | None:
    result = await tx.execute(
        sa.select(*_COLUMNS)
        .join(server_tokens, server_tokens.c.server_id == servers.c.id)
        .where(server_tokens.c.token_hash == token_hash)
    )
    row = result.one_or_none()
    return _server(row) if row else None


async def update_server_settings(
    tx: Tx,
    server_id: int,
    *,
    default_locale: str | None = None,
    brand: dict[str, str] | None = None,
) -> None:
    values: dict[str, Any] = {}
    if default_locale is not None:
        values["default_locale"] = default_locale
    if brand is not None:
        values["brand"] = brand
    if values:
        await tx.execute(sa.update(servers).where(servers.c.id == server_id).values(**values))


async def server_for_message(tx: Tx, message_id: str) -> Server | None:
    """The server a message belongs to (tracking URLs name only the message)."""
    result = await tx.execute(
        sa.select(*_COLUMNS)
        .join(messages, messages.c.server_id == servers.c.id)
        .where(messages.c.id == message_id.lower())
    )
    row = result.one_or_none()
    return _server(row) if row else None


async def list_servers(tx: Tx) -> list[Server]:
    result = await tx.execute(sa.select(*_COLUMNS).order_by(servers.c.name))
    return [_server(row) for row in result]


async def token_dates(tx: Tx, server_id: int) -> list[datetime]:
    """When each of the server's API tokens was made (the tokens themselves are not kept)."""
    result = await tx.execute(
        sa.select(server_tokens.c.created_at)
        .where(server_tokens.c.server_id == server_id)
        .order_by(server_tokens.c.id)
    )
    return [row.created_at for row in result]


async def list_tokens(tx: Tx, server_id: int) -> list[tuple[int, datetime]]:
    """(id, created_at) of each API token of the server, oldest first: never the token."""
    result = await tx.execute(
        sa.select(server_tokens.c.id, server_tokens.c.created_at)
        .where(server_tokens.c.server_id == server_id)
        .order_by(server_tokens.c.id)
    )
    return [(row.id, row.created_at) for row in result]


async def new_token_id(tx: Tx, server_id: int, token_hash: str) -> int:
    result = await tx.execute(
        sa.select(server_tokens.c.id).where(
            server_tokens.c.server_id == server_id, server_tokens.c.token_hash == token_hash
        )
    )
    token_id: int = result.scalar_one()
    return token_id


async def delete_token(tx: Tx, server_id: int, token_id: int) -> str | None:
    """Remove one token of the server; its hash (so caches can forget it), None if none."""
    result = await tx.execute(
        sa.select(server_tokens.c.token_hash).where(
            server_tokens.c.server_id == server_id, server_tokens.c.id == token_id
        )
    )
    token_hash = result.scalar_one_or_none()
    if token_hash is not None:
        await tx.execute(sa.delete(server_tokens).where(server_tokens.c.id == token_id))
    return token_hash
