"""Test data builders: a server with a domain, and messages ready to queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from misiva.domain.enums import StreamType
from misiva.domain.ids import hash_token, new_message_id
from misiva.domain.records import NewMessage, SendingDomain, Server
from misiva.storage import Database
from misiva.storage import domains as domain_store
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Tenant:
    server: Server
    domain: SendingDomain
    token: str


async def make_tenant(db: Database, name: str = "shop", domain: str = "shop.test") -> Tenant:
    token = f"token-{name}"
    async with db.transaction() as tx:
        server = await server_store.insert_server(tx, name, T0)
        await server_store.insert_token(tx, server.id, hash_token(token), T0)
        await stream_store.insert_stream(
            tx, server.id, "outbound", "Default", StreamType.TRANSACTIONAL, T0
        )
        sending = await domain_store.insert_domain(
            tx,
            server_id=server.id,
            name=domain,
            selector="sel",
            private_key_pem=b"-----BEGIN PRIVATE KEY-----\n...",
            public_txt="v=DKIM1; k=rsa; p=...",
            now=T0,
        )
    return Tenant(server=server, domain=sending, token=token)


def new_message(
    tenant: Tenant, recipients: tuple[str, ...] = ("ana@example.com",), at: datetime = T0
) -> NewMessage:
    return NewMessage(
        id=new_message_id(),
        server_id=tenant.server.id,
        stream="outbound",
        domain_id=tenant.domain.id,
        sender=f"Shop <hello@{tenant.domain.name}>",
        envelope_from=f"hello@{tenant.domain.name}",
        to=[(r, "") for r in recipients],
        cc=[],
        bcc=[],
        recipients=recipients,
        subject="Your order",
        tag="order",
        metadata={"order": "42"},
        track_opens=None,
        track_links=None,
        mime=b"Subject: Your order\r\n\r\nHello\r\n",
        accepted_at=at,
    )
