"""Sending domains of a server, with their DKIM keys and their last DNS check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.dkim_keys import KeyAlgorithm, KeyState, signing_keys
from misiva.domain.dns_checks import (
    DomainCheck,
    RecordCheck,
    RecordKind,
    RecordStatus,
    StatusChange,
    StatusHistoryEntry,
)
from misiva.domain.identity import SendingIdentity
from misiva.domain.records import SendingDomain
from misiva.storage import dkim_keys as dkim_key_store
from misiva.storage.engine import Tx
from misiva.storage.tables import domain_status_changes, domains

_COLUMNS = (
    domains.c.id,
    domains.c.server_id,
    domains.c.name,
    domains.c.dkim_selector,
    domains.c.dkim_private_key,
    domains.c.dkim_public_txt,
    domains.c.created_at,
)


def _domain(row: Any) -> SendingDomain:
    return SendingDomain(
        id=row.id,
        server_id=row.server_id,
        name=row.name,
        dkim_selector=row.dkim_selector,
        dkim_private_key=row.dkim_private_key.encode(),
        dkim_public_txt=row.dkim_public_txt,
        created_at=row.created_at,
    )


async def insert_domain(
    tx: Tx,
    *,
    server_id: int,
    name: str,
    selector: str,
    private_key_pem: bytes,
    public_txt: str,
    now: datetime,
) -> SendingDomain:
    result = await tx.execute(
        sa.insert(domains)
        .values(
            server_id=server_id,
            name=name.lower(),
            dkim_selector=selector,
            dkim_private_key=private_key_pem.decode(),
            dkim_public_txt=public_txt,
            created_at=now,
        )
        .returning(*_COLUMNS)
    )
    domain = _domain(result.one())
    # The domain's first key is its active RSA key: it signs from the first message on.
    await dkim_key_store.insert_key(
        tx,
        domain_id=domain.id,
        selector=selector,
        algorithm=KeyAlgorithm.RSA,
        private_key_pem=private_key_pem,
        public_txt=public_txt,
        state=KeyState.ACTIVE,
        now=now,
    )
    return domain


async def list_domains(tx: Tx, server_id: int) -> list[SendingDomain]:
    result = await tx.execute(
        sa.select(*_COLUMNS).where(domains.c.server_id == server_id).order_by(domains.c.name)
    )
    return [_domain(row) for row in result]


async def find_domain(tx: Tx, server_id: int, name: str) -> SendingDomain | None:
    result = await tx.execute(
        sa.select(*_COLUMNS).where(domains.c.server_id == server_id, domains.c.name == name.lower())
    )
    row = result.one_or_none()
    return _domain(row) if row else None


async def get_domains_by_id(tx: Tx, ids: list[int]) -> dict[int, SendingDomain]:
    """The domains of a claimed batch in one query (workers cache them after)."""
    if not ids:
        return {}
    result = await tx.execute(sa.select(*_COLUMNS).where(domains.c.id.in_(ids)))
    return {row.id: _domain(row) for row in result}


async def save_check(tx: Tx, domain_id: int, check: DomainCheck) -> None:
    await tx.execute(
        sa.update(domains)
        .where(domains.c.id == domain_id)
        .values(
            dns_checked_at=check.checked_at,
            dns_check=[r.to_json() for r in check.records],
        )
    )


async def last_checks(tx: Tx, server_id: int) -> dict[int, DomainCheck]:
    """Each checked domain's last DNS check, by domain id (unchecked domains are absent)."""
    result = await tx.execute(
        sa.select(domains.c.id, domains.c.dns_checked_at, domains.c.dns_check).where(
            domains.c.server_id == server_id, domains.c.dns_checked_at.is_not(None)
        )
    )
    return {
        row.id: DomainCheck(
            row.dns_checked_at, tuple(RecordCheck.from_json(r) for r in row.dns_check or ())
        )
        for row in result
    }


async def last_check(tx: Tx, domain_id: int) -> DomainCheck | None:
    row = (
        await tx.execute(
            sa.select(domains.c.dns_checked_at, domains.c.dns_check).where(
                domains.c.id == domain_id
            )
        )
    ).one_or_none()
    if row is None or row.dns_checked_at is None:
        return None
    return DomainCheck(
        row.dns_checked_at, tuple(RecordCheck.from_json(r) for r in row.dns_check or ())
    )


async def domains_due_for_check(tx: Tx, before: datetime, limit: int) -> list[SendingDomain]:
    """Domains of every server not checked since `before` (never-checked ones first)."""
    result = await tx.execute(
        sa.select(*_COLUMNS)
        .where(sa.or_(domains.c.dns_checked_at.is_(None), domains.c.dns_checked_at < before))
        .order_by(domains.c.dns_checked_at.is_not(None), domains.c.dns_checked_at, domains.c.id)
        .limit(limit)
    )
    return [_domain(row) for row in result]


async def find_domains_named(tx: Tx, name: str) -> list[SendingDomain]:
    """Every server's domain of that name (the CLI names a domain, not always its server)."""
    result = await tx.execute(
        sa.select(*_COLUMNS).where(domains.c.name == name.lower()).order_by(domains.c.id)
    )
    return [_domain(row) for row in result]


async def insert_status_changes(tx: Tx, domain: SendingDomain, changes: list[StatusChange]) -> None:
    if not changes:
        return
    await tx.execute(
        sa.insert(domain_status_changes),
        [
            {
                "domain_id": domain.id,
                "server_id": domain.server_id,
                "kind": c.record.kind.value,
                "name": c.record.name,
                "old_status": c.old.value if c.old else None,
                "new_status": c.record.status.value,
                "problem": c.record.problem,
                "changed_at": c.at,
            }
            for c in changes
        ],
    )


async def status_history(tx: Tx, domain_id: int, limit: int = 20) -> list[StatusHistoryEntry]:
    """The domain's latest record status changes, newest first."""
    rows = await tx.execute(
        sa.select(domain_status_changes)
        .where(domain_status_changes.c.domain_id == domain_id)
        .order_by(domain_status_changes.c.id.desc())
        .limit(limit)
    )
    return [
        StatusHistoryEntry(
            kind=RecordKind(row.kind),
            name=row.name,
            old=RecordStatus(row.old_status) if row.old_status else None,
            new=RecordStatus(row.new_status),
            problem=row.problem,
            at=row.changed_at,
        )
        for row in rows
    ]


async def sending_identities(tx: Tx, ids: list[int]) -> dict[int, SendingIdentity]:
    """What delivery needs of these domains: their active keys and their Return-Path name
    if the last check found it in place."""
    if not ids:
        # The worker asks on every claim, almost always with nothing stale: no round trips.
        return {}
    found = await get_domains_by_id(tx, ids)
    keys = await dkim_key_store.keys_by_domain(tx, list(found), states=(KeyState.ACTIVE,))
    checks = await tx.execute(
        sa.select(domains.c.id, domains.c.dns_check).where(domains.c.id.in_(list(found)))
    )
    return_paths = {
        row.id: next(
            (
                r["name"]
                for r in row.dns_check or ()
                if r.get("kind") == RecordKind.RETURN_PATH.value and RecordCheck.from_json(r).ok
            ),
            None,
        )
        for row in checks
    }
    return {
        i: SendingIdentity(d, tuple(signing_keys(keys[i])), return_paths.get(i))
        for i, d in found.items()
    }
