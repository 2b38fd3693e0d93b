"""Sending domains of a server, with their DKIM keys and their last DNS check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.dns_checks import DomainCheck, RecordCheck
from misiva.domain.records import SendingDomain
from misiva.storage.engine import Tx
from misiva.storage.tables import domains

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
    return _domain(result.one())


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
