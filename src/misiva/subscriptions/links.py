"""Open a recipient's signed link: the server it names, the token verified with its secret."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.records import Server, Stream
from misiva.storage import Tx
from misiva.storage import contacts as contact_store
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store
from misiva.tracking.consent_tokens import (
    ConsentToken,
    LinkPurpose,
    peek_server_id,
    verify_consent_token,
)


@dataclass(frozen=True, slots=True)
class Opened:
    token: ConsentToken
    server: Server
    stream: Stream | None
    locale: str


async def open_link(tx: Tx, value: str, purpose: LinkPurpose) -> Opened | None:
    """The verified token with its server, stream and the recipient's page locale; None for
    a token we did not sign for this purpose, or whose server or stream is gone."""
    server_id = peek_server_id(value)
    if server_id is None:
        return None
    server = await server_store.get_server(tx, server_id)
    if server is None or not server.secret:
        return None
    token = verify_consent_token(value, bytes.fromhex(server.secret), purpose)
    if token is None:
        return None
    stream = None
    if token.stream:
        stream = await stream_store.get_stream(tx, server.id, token.stream)
        if stream is None:
            return None
    return Opened(token, server, stream, await _locale(tx, server, token.email))


async def opened_for(tx: Tx, server_id: int, stream: Stream | None, email: str) -> Opened | None:
    """What opening an unsubscribe link would give, for a request that came by mail."""
    server = await server_store.get_server(tx, server_id)
    if server is None or stream is None:
        return None
    token = ConsentToken(LinkPurpose.UNSUBSCRIBE, server_id, email, stream.stream_id)
    return Opened(token, server, stream, await _locale(tx, server, email))


async def _locale(tx: Tx, server: Server, email: str) -> str:
    """The page speaks the contact's language, else the server's."""
    contact = await contact_store.get_contact(tx, server.id, email)
    return (contact.locale if contact else None) or server.default_locale
