"""Opens and clicks: verify the signed token, record the event once, say where to redirect."""

from __future__ import annotations

from misiva.domain.clock import Clock, utcnow
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.records import StoredEvent, StoredMessage
from misiva.events.record import record_events
from misiva.render.blocks import block_details
from misiva.storage import Database, Tx
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import servers as server_store
from misiva.tracking.agents import AgentInfo, describe_agent, is_machine_open
from misiva.tracking.tokens import TokenKind, TrackingToken, verify_token


class Engagement:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def open(self, value: str, user_agent: str | None) -> bool:
        """Record an open; False when the token is not a valid open token."""
        async with self._db.transaction() as tx:
            verified = await _verified(tx, value, TokenKind.OPEN)
            if verified is None:
                return False
            token, message = verified
            first = not await event_store.has_event(
                tx, token.message_id, token.recipient, EventType.OPENED
            )
            agent = describe_agent(user_agent)
            delivered = await _delivered_at(tx, token)
            seconds = (self._clock() - delivered.created_at).total_seconds() if delivered else None
            details = {
                **_agent_details(agent, user_agent),
                "first_open": "true" if first else "false",
                "machine_open": "true" if is_machine_open(agent, seconds) else "false",
            }
            await self._record(tx, message, token, EventType.OPENED, details)
        return True

    async def click(self, value: str, user_agent: str | None) -> str | None:
        """Record a click and return the link to redirect to; None for a bad token.

        Only the link inside the signed token can come out, so the redirect can never point
        anywhere the message did not (no open redirect). One event per link and recipient.
        """
        async with self._db.transaction() as tx:
            verified = await _verified(tx, value, TokenKind.CLICK)
            if verified is None:
                return None
            token, message = verified
            link = token.link
            if link is None:
                return None
            earlier = await _clicks(tx, token)
            if not any(e.details.get("original_link") == link for e in earlier):
                details = {
                    **_agent_details(describe_agent(user_agent), user_agent),
                    "original_link": link,
                    "click_location": "HTML",
                    # A content block's link names its block and variant (attribution).
                    **block_details(link),
                }
                await self._record(tx, message, token, EventType.CLICKED, details)
        return link

    async def _record(
        self,
        tx: Tx,
        message: StoredMessage,
        token: TrackingToken,
        kind: EventType,
        details: dict[str, str],
    ) -> None:
        await record_events(
            tx,
            [
                EventRecord(
                    message_id=message.id,
                    server_id=message.server_id,
                    type=kind,
                    recipient=token.recipient,
                    at=self._clock(),
                    details=details,
                )
            ],
        )


async def _verified(
    tx: Tx, value: str, kind: TokenKind
) -> tuple[TrackingToken, StoredMessage] | None:
    """The token and its message, when the token is genuine and names one of its recipients."""
    secrets: dict[str, bytes | None] = {}
    # verify_token asks for the secret of the message the token names; look it up once.
    for_id = _peek_message_id(value)
    if for_id:
        server = await server_store.server_for_message(tx, for_id)
        secrets[for_id] = bytes.fromhex(server.secret) if server and server.secret else None
    token = verify_token(value, lambda message_id: secrets.get(message_id))
    if token is None or token.kind != kind.value:
        return None
    message = await message_store.get_message(tx, token.message_id)
    if message is None or token.recipient not in {r.lower() for r in message.rcpt_state}:
        return None
    return token, message


def _peek_message_id(value: str) -> str | None:
    """The message id a token names, read before its signature is checked (to find the key)."""
    found: list[str] = []

    def capture(message_id: str) -> bytes | None:
        found.append(message_id)
        return None

    verify_token(value, capture)
    return found[0] if found else None


async def _delivered_at(tx: Tx, token: TrackingToken) -> StoredEvent | None:
    events = await event_store.list_events(tx, token.message_id)
    return next(
        (e for e in events if e.type is EventType.DELIVERED and e.recipient == token.recipient),
        None,
    )


async def _clicks(tx: Tx, token: TrackingToken) -> list[StoredEvent]:
    events = await event_store.list_events(tx, token.message_id)
    return [e for e in events if e.type is EventType.CLICKED and e.recipient == token.recipient]


def _agent_details(agent: AgentInfo, user_agent: str | None) -> dict[str, str]:
    return {
        "user_agent": (user_agent or "")[:1024],
        "client_name": agent.client_name,
        "client_company": agent.client_company,
        "client_family": agent.client_family,
        "os_name": agent.os_name,
        "os_company": agent.os_company,
        "os_family": agent.os_family,
        "platform": str(agent.platform),
        "is_proxy": "true" if agent.is_proxy else "false",
        "proxy": agent.proxy or "",
        "is_bot": "true" if agent.is_bot else "false",
    }
