"""Add sending domains: generate the DKIM key and say which DNS records to publish."""

from __future__ import annotations

import re
from dataclasses import dataclass

from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.records import SendingDomain
from misiva.mail.dkim import DomainRecords, dns_records, generate_key, new_selector
from misiva.storage import Database
from misiva.storage import domains as domain_store
from misiva.storage import servers as server_store

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class NewDomain:
    domain: SendingDomain
    records: DomainRecords


async def add_domain(
    db: Database, name: str, server_name: str, *, clock: Clock = utcnow
) -> NewDomain:
    name = name.strip().lower().rstrip(".")
    if not _DOMAIN.match(name):
        raise InvalidRequest(f"{name!r} is not a domain name such as example.com")
    now = clock()
    # 2048-bit RSA: the size RFC 8301 recommends; keygen takes a moment, outside the tx.
    key = generate_key(new_selector(now))
    async with db.transaction() as tx:
        server = await server_store.find_server_by_name(tx, server_name)
        if server is None:
            raise NotFound(f"no server named {server_name!r}")
        if await domain_store.find_domain(tx, server.id, name) is not None:
            raise Conflict(f"{name} is already a sending domain of {server_name}")
        domain = await domain_store.insert_domain(
            tx,
            server_id=server.id,
            name=name,
            selector=key.selector,
            private_key_pem=key.private_key_pem,
            public_txt=key.public_txt,
            now=now,
        )
    return NewDomain(domain=domain, records=dns_records(name, key))
