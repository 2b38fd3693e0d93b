"""Contacts: each server's profiles of the people it writes to, keyed by email."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.contacts import Contact
from misiva.storage.engine import Tx
from misiva.storage.tables import contacts, message_events, messages

_PROFILE = (
    "first_name",
    "last_name",
    "locale",
    "country",
    "city",
    "postal_address",
    "member_number",
    "external_id",
    "attributes",
)


def _contact(row: Any) -> Contact:
    return Contact(
        server_id=row.server_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        locale=row.locale,
        country=row.country,
        city=row.city,
        postal_address=row.postal_address,
        member_number=row.member_number,
        external_id=row.external_id,
        attributes=dict(row.attributes),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def upsert_contacts(tx: Tx, batch: list[Contact], now: datetime) -> None:
    """Insert or replace profiles in one statement (ON CONFLICT on server and email)."""
    if not batch:
        return
    rows = [
        {
            "server_id": c.server_id,
            "email": c.email.lower(),
            **{name: getattr(c, name) for name in _PROFILE},
            "created_at": now,
            "updated_at": now,
        }
        for c in batch
    ]
    insert = pg_insert if tx.dialect.name == "postgresql" else sqlite_insert
    statement = insert(contacts)
    statement = statement.on_conflict_do_update(
        index_elements=[contacts.c.server_id, contacts.c.email],
        set_={name: statement.excluded[name] for name in (*_PROFILE, "updated_at")},
    )
    await tx.execute(statement, rows)


async def get_contact(tx: Tx, server_id: int, email: str) -> Contact | None:
    row = (
        await tx.execute(
            sa.select(contacts).where(
                contacts.c.server_id == server_id, contacts.c.email == email.lower()
            )
        )
    ).one_or_none()
    return _contact(row) if row else None


async def get_contacts(tx: Tx, server_id: int, emails: list[str]) -> dict[str, Contact]:
    """The profiles of many recipients in one query (a batch send needs all of them)."""
    if not emails:
        return {}
    rows = await tx.execute(
        sa.select(contacts).where(
            contacts.c.server_id == server_id,
            contacts.c.email.in_(sorted({e.lower() for e in emails})),
        )
    )
    return {row.email: _contact(row) for row in rows}


async def count_contacts(tx: Tx, server_id: int) -> int:
    query = sa.select(sa.func.count()).select_from(contacts)
    return int((await tx.execute(query.where(contacts.c.server_id == server_id))).scalar_one())


async def contacts_by_id(
    tx: Tx, server_id: int, *, limit: int, after_id: int = 0
) -> list[tuple[int, Contact]]:
    """One page of a server's contacts in the order they were added, with their ids: pass a
    page's last id as `after_id` for the next (keyset paging stays fast deep in a list)."""
    rows = await tx.execute(
        sa.select(contacts)
        .where(contacts.c.server_id == server_id, contacts.c.id > after_id)
        .order_by(contacts.c.id)
        .limit(limit)
    )
    return [(int(row.id), _contact(row)) for row in rows]


async def search_contacts(
    tx: Tx, server_id: int, *, query: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[int, list[Contact]]:
    where = [contacts.c.server_id == server_id]
    if query:
        pattern = f"%{query.lower()}%"
        where.append(
            sa.or_(
                contacts.c.email.like(pattern),
                sa.func.lower(contacts.c.first_name).like(pattern),
                sa.func.lower(contacts.c.last_name).like(pattern),
                contacts.c.member_number.like(pattern),
                contacts.c.external_id.like(pattern),
            )
        )
    total = await tx.execute(sa.select(sa.func.count()).select_from(contacts).where(*where))
    rows = await tx.execute(
        sa.select(contacts).where(*where).order_by(contacts.c.email).limit(limit).offset(offset)
    )
    return total.scalar_one(), [_contact(row) for row in rows]


async def delete_contact(tx: Tx, server_id: int, email: str) -> bool:
    result = await tx.execute(
        sa.delete(contacts).where(
            contacts.c.server_id == server_id, contacts.c.email == email.lower()
        )
    )
    return bool(result.rowcount)


async def anonymise_messages(tx: Tx, server_id: int, email: str, replacement: str) -> int:
    """GDPR erasure: drop the person's metadata and content from their stored messages.

    Messages store recipients in JSON; those naming the address lose their metadata and
    their body (the raw MIME), and their recipient lists are rewritten to `replacement`.
    Events keep their type and time, with the recipient replaced.
    """
    email = email.lower()
    # The JSON text names the address in quotes: a cheap prefilter before the exact check.
    mentions = sa.func.lower(sa.cast(messages.c.rcpt_state, sa.Text)).like(f'%"{email}"%')
    rows = await tx.execute(
        sa.select(
            messages.c.id,
            messages.c.rcpt_state,
            messages.c.to_list,
            messages.c.cc_list,
            messages.c.bcc_list,
        ).where(messages.c.server_id == server_id, mentions)
    )
    changed = 0
    for row in rows:
        if email not in {r.lower() for r in row.rcpt_state}:
            continue
        await tx.execute(
            sa.update(messages)
            .where(messages.c.id == row.id)
            .values(
                metadata={},
                mime=b"",
                rcpt_state={
                    replacement if r.lower() == email else r: s for r, s in row.rcpt_state.items()
                },
                to_list=_scrub(row.to_list, email, replacement),
                cc_list=_scrub(row.cc_list, email, replacement),
                bcc_list=_scrub(row.bcc_list, email, replacement),
            )
        )
        changed += 1
    await tx.execute(
        sa.update(message_events)
        .where(
            message_events.c.server_id == server_id,
            sa.func.lower(message_events.c.recipient) == email,
        )
        .values(recipient=replacement)
    )
    return changed


def _scrub(pairs: list[list[str]], email: str, replacement: str) -> list[tuple[str, str]]:
    return [(replacement, "") if e.lower() == email else (e, n) for e, n in pairs]
