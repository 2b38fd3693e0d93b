"""An address's standing on every stream: subscriptions, suppressions and consent history."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.subscriptions import ConsentRecord, Subscription
from misiva.storage import Database
from misiva.storage import subscriptions as subscription_store
from misiva.storage import suppressions as suppression_store


@dataclass(frozen=True, slots=True)
class AddressProfile:
    email: str
    subscriptions: list[Subscription]
    # stream -> reason, for every stream the address is suppressed on
    suppressed: dict[str, str]
    consent: list[ConsentRecord]


async def address_profile(db: Database, server_id: int, email: str) -> AddressProfile:
    async with db.reading() as tx:
        subscriptions = await subscription_store.list_for_address(tx, server_id, email)
        suppressed = await suppression_store.streams_suppressing(tx, server_id, email)
        consent = await subscription_store.list_consent(tx, server_id, email)
    return AddressProfile(email.lower(), subscriptions, suppressed, consent)
