"""The audit log: who changed what, written by every change made in the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.clock import Clock, utcnow
from misiva.domain.users import AuditEntry, User
from misiva.storage import Database
from misiva.storage import users as user_store


async def record(
    db: Database,
    user: User | None,
    action: str,
    target: str,
    *,
    server_id: int | None = None,
    details: dict[str, str] | None = None,
    clock: Clock = utcnow,
) -> None:
    """One entry: `action` is dotted and stable (`template.publish`, `token.revoke`), `target`
    names what changed (an alias, an address, a domain), `details` what a reader needs."""
    entry = AuditEntry(
        user.id if user else None, server_id, action, target, dict(details or {}), clock()
    )
    async with db.transaction() as tx:
        await user_store.insert_audit(tx, entry)


@dataclass(frozen=True, slots=True)
class AuditLine:
    entry: AuditEntry
    who: str  # the user's email; empty for the CLI


async def recent(
    db: Database, *, limit: int = 100, offset: int = 0, server_id: int | None = None
) -> list[AuditLine]:
    async with db.reading() as tx:
        entries = await user_store.list_audit(tx, limit=limit, offset=offset, server_id=server_id)
        emails = await user_store.user_emails(
            tx, {e.user_id for e in entries if e.user_id is not None}
        )
    return [AuditLine(e, emails.get(e.user_id, "") if e.user_id else "") for e in entries]
