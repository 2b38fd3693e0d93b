"""Webhooks per stream, as Postmark configures them, each with its own signing secret."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.records import Webhook
from misiva.storage import Database
from misiva.storage import streams as stream_store
from misiva.storage import webhooks as webhook_store
from misiva.webhooks.signing import new_webhook_secret
from misiva.webhooks.targets import WebhookTargets

# Public addresses only, unless the caller passes the operator's setting (webhooks/targets.py).
PUBLIC_ONLY = WebhookTargets()

TRIGGERS = (
    "Open",
    "Click",
    "Delivery",
    "Bounce",
    "SpamComplaint",
    "SubscriptionChange",
    # Misiva's own trigger: a sending domain's DNS record broke (webhooks/payloads.py).
    "DomainCheckFailed",
    # Misiva's own trigger: a sending-health alert opened or resolved.
    "Alert",
)
_FLAGS = {"Enabled", "PostFirstOpenOnly", "IncludeContent"}
INVALID_URL = 606


def _triggers(given: Any) -> dict[str, dict[str, bool]]:
    if given is None:
        return {name: {"Enabled": False} for name in TRIGGERS}
    if not isinstance(given, dict):
        raise InvalidRequest("Invalid 'Triggers': expected an object.")
    triggers = {}
    for name in TRIGGERS:
        value = given.get(name) or {}
        if not isinstance(value, dict):
            raise InvalidRequest(f"Invalid 'Triggers.{name}': expected an object.")
        triggers[name] = {k: bool(v) for k, v in value.items() if k in _FLAGS}
        triggers[name].setdefault("Enabled", False)
    return triggers


def _url(value: Any) -> str:
    url = str(value or "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"Invalid webhook 'Url' {url!r}: use http(s)://host/path.", INVALID_URL
        )
    return url


def _auth(value: Any) -> dict[str, str] | None:
    if not value:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("Invalid 'HttpAuth': expected {Username, Password}.")
    return {
        "Username": str(value.get("Username") or ""),
        "Password": str(value.get("Password") or ""),
    }


def _headers(value: Any) -> list[dict[str, str]]:
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(h, dict) and h.get("Name") for h in value):
        raise InvalidRequest("Invalid 'HttpHeaders': expected [{Name, Value}].")
    for header in value:
        if any(c in str(header.get("Value", "")) + str(header["Name"]) for c in "\r\n"):
            raise InvalidRequest("Invalid 'HttpHeaders': line breaks are not allowed.")
    return [{"Name": str(h["Name"]), "Value": str(h.get("Value") or "")} for h in value]


async def create_webhook(
    db: Database,
    server_id: int,
    body: dict[str, Any],
    *,
    clock: Clock = utcnow,
    targets: WebhookTargets = PUBLIC_ONLY,
) -> Webhook:
    # Checked before the transaction: resolving a name must not hold a database lock.
    await targets.check(_url(body.get("Url")))
    stream = str(body.get("MessageStream") or DEFAULT_STREAM)
    async with db.transaction() as tx:
        # A webhook on a stream the server lacks would never fire: Postmark refuses it (1235).
        if await stream_store.get_stream(tx, server_id, stream) is None:
            raise InvalidRequest(
                "The 'MessageStream' provided does not exist on this server.",
                ErrorCode.STREAM_NOT_FOUND,
            )
        return await webhook_store.insert_webhook(
            tx,
            server_id=server_id,
            url=_url(body.get("Url")),
            stream=stream,
            secret=new_webhook_secret(),
            http_auth=_auth(body.get("HttpAuth")),
            http_headers=_headers(body.get("HttpHeaders")),
            triggers=_triggers(body.get("Triggers")),
            created_at=clock(),
        )


async def get_webhook(db: Database, server_id: int, webhook_id: int) -> Webhook:
    async with db.transaction() as tx:
        found = await webhook_store.get_webhook(tx, server_id, webhook_id)
    if found is None:
        raise NotFound("The webhook was not found.", ErrorCode.MESSAGE_NOT_FOUND)
    return found


async def update_webhook(
    db: Database,
    server_id: int,
    webhook_id: int,
    body: dict[str, Any],
    *,
    targets: WebhookTargets = PUBLIC_ONLY,
) -> Webhook:
    await get_webhook(db, server_id, webhook_id)
    changes: dict[str, Any] = {}
    if "Url" in body:
        changes["url"] = _url(body["Url"])
        await targets.check(changes["url"])
    if "HttpAuth" in body:
        changes["http_auth"] = _auth(body["HttpAuth"])
    if "HttpHeaders" in body:
        changes["http_headers"] = _headers(body["HttpHeaders"])
    if "Triggers" in body:
        changes["triggers"] = _triggers(body["Triggers"])
    if changes:
        async with db.transaction() as tx:
            await webhook_store.update_webhook(tx, webhook_id, **changes)
    return await get_webhook(db, server_id, webhook_id)


async def delete_webhook(db: Database, server_id: int, webhook_id: int) -> None:
    await get_webhook(db, server_id, webhook_id)
    async with db.transaction() as tx:
        await webhook_store.delete_webhook(tx, webhook_id)


async def replay_delivery(
    db: Database, server_id: int, delivery_id: int, *, clock: Clock = utcnow
) -> None:
    async with db.transaction() as tx:
        if not await webhook_store.replay(tx, server_id, delivery_id, clock()):
            raise NotFound(f"No webhook delivery {delivery_id} on this server.")
