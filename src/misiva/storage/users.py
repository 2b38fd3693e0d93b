"""Web UI users, the servers they may act on, their sessions, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.users import AuditEntry, Role, User
from misiva.storage.engine import Tx
from misiva.storage.tables import audit_log, ui_sessions, user_servers, users


def _user(row: Any, server_ids: frozenset[int]) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        locale=row.locale,
        disabled=row.disabled,
        created_at=row.created_at,
        server_ids=server_ids,
    )


async def insert_user(
    tx: Tx,
    *,
    email: str,
    name: str,
    password_hash: str,
    role: Role,
    locale: str,
    now: datetime,
    server_ids: frozenset[int],
) -> User:
    result = await tx.execute(
        sa.insert(users)
        .values(
            email=email.lower(),
            name=name,
            password_hash=password_hash,
            role=role.value,
            locale=locale,
            disabled=False,
            created_at=now,
        )
        .returning(*users.c)
    )
    row = result.one()
    if server_ids:
        await tx.execute(
            sa.insert(user_servers), [{"user_id": row.id, "server_id": s} for s in server_ids]
        )
    return _user(row, server_ids)


async def _servers_of(tx: Tx, user_id: int) -> frozenset[int]:
    rows = await tx.execute(
        sa.select(user_servers.c.server_id).where(user_servers.c.user_id == user_id)
    )
    return frozenset(row.server_id for row in rows)


async def find_user_with_hash(tx: Tx, email: str) -> tuple[User, str] | None:
    """The user and their password hash, for signing in."""
    row = (await tx.execute(sa.select(users).where(users.c.email == email.lower()))).one_or_none()
    if row is None:
        return None
    return _user(row, await _servers_of(tx, row.id)), row.password_hash


async def update_locale(tx: Tx, user_id: int, locale: str) -> None:
    await tx.execute(sa.update(users).where(users.c.id == user_id).values(locale=locale))


async def update_password_hash(tx: Tx, user_id: int, password_hash: str) -> None:
    await tx.execute(
        sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )


async def insert_session(
    tx: Tx, id_hash: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime
) -> None:
    await tx.execute(
        sa.insert(ui_sessions).values(
            id_hash=id_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def find_session(tx: Tx, id_hash: str, now: datetime) -> tuple[User, str] | None:
    """The signed-in user and the session's CSRF token; None when unknown or expired."""
    row = (
        await tx.execute(
            sa.select(users, ui_sessions.c.csrf_token)
            .join(ui_sessions, ui_sessions.c.user_id == users.c.id)
            .where(ui_sessions.c.id_hash == id_hash, ui_sessions.c.expires_at > now)
        )
    ).one_or_none()
    if row is None:
        return None
    return _user(row, await _servers_of(tx, row.id)), row.csrf_token


async def delete_session(tx: Tx, id_hash: str) -> None:
    await tx.execute(sa.delete(ui_sessions).where(ui_sessions.c.id_hash == id_hash))


async def delete_expired_sessions(tx: Tx, now: datetime) -> int:
    result = await tx.execute(sa.delete(ui_sessions).where(ui_sessions.c.expires_at <= now))
    return int(result.rowcount or 0)


async def insert_audit(tx: Tx, entry: AuditEntry) -> None:
    await tx.execute(
        sa.insert(audit_log).values(
            user_id=entry.user_id,
            server_id=entry.server_id,
            action=entry.action,
            target=entry.target,
            details=entry.details,
            at=entry.at,
        )
    )


async def list_audit(
    tx: Tx, *, limit: int = 100, offset: int = 0, server_id: int | None = None
) -> list[AuditEntry]:
    """Newest first; of one server's changes, or of all."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if server_id is not None:
        query = query.where(audit_log.c.server_id == server_id)
    rows = await tx.execute(query)
    return [
        AuditEntry(
            id=row.id,
            user_id=row.user_id,
            server_id=row.server_id,
            action=row.action,
            target=row.target,
            details=dict(row.details),
            at=row.at,
        )
        for row in rows
    ]


async def user_emails(tx: Tx, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await tx.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
    return {row.id: row.email for row in rows}
