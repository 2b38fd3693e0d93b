"""Add sending domains and rotate their DKIM keys: generate keys, say what to publish."""

from __future__ import annotations

import re
from dataclasses import dataclass

from misiva.domain.clock import Clock, utcnow
from misiva.domain.dkim_keys import DkimKeyRecord, KeyAlgorithm, KeyState, new_selector
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.records import SendingDomain
from misiva.mail.dkim import generate_key
from misiva.storage import Database
from misiva.storage import dkim_keys as key_store
from misiva.storage import domains as domain_store
from misiva.storage import servers as server_store

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class NewDomain:
    domain: SendingDomain
    keys: tuple[DkimKeyRecord, ...]


async def add_domain(
    db: Database,
    name: str,
    server_name: str,
    *,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA,
    clock: Clock = utcnow,
) -> NewDomain:
    """A new domain with its active RSA key, and with `algorithm=ed25519` an active Ed25519
    key beside it: its mail is then signed twice (RFC 8463 §4), since many verifiers do not
    know Ed25519 yet and would otherwise find no signature they can check."""
    name = name.strip().lower().rstrip(".")
    if not _DOMAIN.match(name):
        raise InvalidRequest(f"{name!r} is not a domain name such as example.com")
    now = clock()
    # 2048-bit RSA: the size RFC 8301 recommends; keygen takes a moment, outside the tx.
    key = generate_key(new_selector(now, KeyAlgorithm.RSA, set()))
    extra = None
    if algorithm is KeyAlgorithm.ED25519:
        extra = generate_key(new_selector(now, algorithm, set()), algorithm=algorithm)
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
        if extra is not None:
            await key_store.insert_key(
                tx,
                domain_id=domain.id,
                selector=extra.selector,
                algorithm=extra.algorithm,
                private_key_pem=extra.private_key_pem,
                public_txt=extra.public_txt,
                state=KeyState.ACTIVE,
                now=now,
            )
        keys = (await key_store.keys_by_domain(tx, [domain.id]))[domain.id]
    return NewDomain(domain=domain, keys=tuple(keys))


async def find_sending_domain(db: Database, name: str, server_name: str | None) -> SendingDomain:
    """The domain an operator names: on the named server, or the only one of that name."""
    name = name.strip().lower().rstrip(".")
    async with db.reading() as tx:
        if server_name is not None:
            server = await server_store.find_server_by_name(tx, server_name)
            if server is None:
                raise NotFound(f"no server named {server_name!r}")
            found = await domain_store.find_domain(tx, server.id, name)
            candidates = [found] if found else []
        else:
            candidates = await domain_store.find_domains_named(tx, name)
    if not candidates:
        raise NotFound(f"no sending domain {name}")
    if len(candidates) > 1:
        raise InvalidRequest(f"{name} is a sending domain of several servers: name one (--server)")
    return candidates[0]


async def domain_keys(db: Database, domain: SendingDomain) -> list[DkimKeyRecord]:
    async with db.reading() as tx:
        return (await key_store.keys_by_domain(tx, [domain.id]))[domain.id]


async def rotate_dkim(
    db: Database,
    domain: SendingDomain,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA,
    *,
    clock: Clock = utcnow,
) -> DkimKeyRecord:
    """Start a rotation: a new key of `algorithm` at a new selector, pending until it is
    published and the overlap has passed (the scheduler's DkimRotation takes it from there).

    Rotating to Ed25519 on a domain that signs with RSA alone adds the Ed25519 key beside
    the RSA one (double signatures); RSA keeps signing.
    """
    now = clock()
    async with db.reading() as tx:
        keys = (await key_store.keys_by_domain(tx, [domain.id]))[domain.id]
    if any(k.state is KeyState.PENDING and k.algorithm is algorithm for k in keys):
        raise Conflict(
            f"{domain.name} already has a new {algorithm.value} key waiting to be published"
        )
    key = generate_key(
        new_selector(now, algorithm, {k.selector for k in keys}), algorithm=algorithm
    )
    async with db.transaction() as tx:
        return await key_store.insert_key(
            tx,
            domain_id=domain.id,
            selector=key.selector,
            algorithm=algorithm,
            private_key_pem=key.private_key_pem,
            public_txt=key.public_txt,
            state=KeyState.PENDING,
            now=now,
        )
