"""A server's message streams as Postmark's API manages them: list, create, change, archive."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

from misiva.domain.clock import Clock, utcnow
from misiva.domain.content_blocks import DEFAULT_MAX_BLOCK_SHARE_PERCENT
from misiva.domain.enums import ErrorCode, StreamType, TrackLinks
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.records import Stream
from misiva.domain.subscriptions import (
    BROADCAST_DEFAULTS,
    DEFAULT_BROADCAST_STREAM,
    MAX_STREAMS,
    SubscriptionSettings,
    UnsubscribeHandling,
)
from misiva.mail.addresses import parse_single_address
from misiva.storage import Database
from misiva.storage import streams as stream_store
from misiva.storage.engine import Tx

# Postmark's rule for stream IDs (error 1227): a lowercase letter, then lowercase letters,
# digits, "-" and "_", 30 characters in all (also the width of the stream_id column).
_ID_FORMAT = re.compile(r"[a-z][a-z0-9_-]{0,29}")
# Postmark refuses HTML in a description (1234); a tag opens with "<" and a letter or "/".
_HTML_TAG = re.compile(r"<[A-Za-z/]")
MAX_NAME = 100
MAX_DESCRIPTION = 1000
# A template alias is at most 100 characters (the templates' alias column).
MAX_ALIAS = 100
# Thirty days: a confirmation link older than that no longer shows a fresh wish to subscribe.
MAX_OPT_IN_TTL_HOURS = 720
# Postmark purges an archived stream 45 days later; Misiva keeps it but answers the same date.
PURGE_AFTER = timedelta(days=45)
DEFAULT_STREAMS = frozenset({DEFAULT_STREAM, DEFAULT_BROADCAST_STREAM})
NOT_FOUND = "The message stream for the provided 'ID' was not found."

# Misiva's `Subscriptions` object: JSON key → SubscriptionSettings field, for the fields
# whose null clears them (template aliases and the notices' From address).
_CLEARABLE = {
    "ConfirmationTemplate": "opt_in_template",
    "WelcomeTemplate": "welcome_template",
    "UnsubscribeConfirmationTemplate": "unsubscribe_template",
    "From": "notice_from",
}


def expected_purge_date(stream: Stream) -> datetime | None:
    """When Postmark would purge the stream: 45 days after it was archived."""
    return stream.archived_at + PURGE_AFTER if stream.archived_at else None


async def list_streams(
    db: Database, server_id: int, stream_type: str | None, include_archived: bool
) -> list[Stream]:
    """`stream_type` is a MessageStreamType or "All"; None means all."""
    wanted = _type_filter(stream_type)
    async with db.transaction() as tx:
        found = await stream_store.list_streams(tx, server_id, archived=include_archived)
    return [s for s in found if wanted is None or s.stream_type is wanted]


async def get_stream(db: Database, server_id: int, stream_id: str) -> Stream:
    async with db.transaction() as tx:
        return await _existing(tx, server_id, stream_id)


async def create_stream(
    db: Database, server_id: int, fields: dict[str, Any], *, clock: Clock = utcnow
) -> Stream:
    """POST /message-streams: validate every field, then check the ID is free and room left."""
    stream_id = _new_id(fields.get("ID"))
    name = _name(fields, required=True)
    stream_type = _creatable_type(fields.get("MessageStreamType"))
    description = _description(fields)
    defaults = (
        BROADCAST_DEFAULTS if stream_type is StreamType.BROADCASTS else SubscriptionSettings()
    )
    settings = _settings(fields, defaults)
    async with db.transaction() as tx:
        existing = await stream_store.list_streams(tx, server_id)
        if any(s.stream_id == stream_id for s in existing):
            raise InvalidRequest(
                f"A message stream with the ID '{stream_id}' already exists on this server.",
                ErrorCode.STREAM_ID_EXISTS,
            )
        # Archived streams count: Postmark frees their place only when it purges them.
        if len(existing) >= MAX_STREAMS:
            raise InvalidRequest(
                f"Maximum number of message streams reached ({MAX_STREAMS} per server, "
                "archived ones included).",
                ErrorCode.STREAM_LIMIT,
            )
        _check_settings(settings, stream_id, stream_type, existing)
        assert name is not None
        opens, links = _tracking(fields)
        _given, share = _block_share(fields, stream_type)
        return await stream_store.insert_stream(
            tx,
            server_id,
            stream_id,
            name,
            stream_type,
            clock(),
            description=description,
            settings=settings,
            track_opens=bool(opens),
            track_links=links or TrackLinks.NONE.value,
            max_block_share=share,
        )


async def update_stream(
    db: Database, server_id: int, stream_id: str, fields: dict[str, Any], *, clock: Clock = utcnow
) -> Stream:
    """PATCH /message-streams/{id}: Name, Description, tracking, subscription settings and
    MaxBlockShare change; the ID and the type are fixed at creation."""
    name = _name(fields, required=False)
    description = _description(fields)
    opens, links = _tracking(fields)
    async with db.transaction() as tx:
        stream = await _existing(tx, server_id, stream_id)
        _check_fixed(stream, fields)
        share_given, share = _block_share(fields, stream.stream_type)
        settings = _settings(fields, stream.subscriptions)
        if settings != stream.subscriptions:
            existing = await stream_store.list_streams(tx, server_id)
            _check_settings(settings, stream_id, stream.stream_type, existing)
        await stream_store.update_stream(
            tx,
            server_id,
            stream_id,
            clock(),
            name=name,
            description=description,
            settings=settings if settings != stream.subscriptions else None,
            track_opens=opens,
            track_links=links,
            max_block_share=share,
            default_block_share=share_given and share is None,
        )
        return await _existing(tx, server_id, stream_id)


async def archive_stream(
    db: Database, server_id: int, stream_id: str, *, clock: Clock = utcnow
) -> Stream:
    """Stop a stream taking sends; archiving it again keeps the first date."""
    async with db.transaction() as tx:
        stream = await _existing(tx, server_id, stream_id)
        if stream_id in DEFAULT_STREAMS:
            raise InvalidRequest(
                f"The default message stream '{stream_id}' cannot be archived.",
                ErrorCode.STREAM_DEFAULT_NOT_ARCHIVABLE,
            )
        if stream.archived_at is not None:
            return stream
        now = clock()
        await stream_store.update_stream(tx, server_id, stream_id, now, archived_at=now)
        return await _existing(tx, server_id, stream_id)


async def unarchive_stream(
    db: Database, server_id: int, stream_id: str, *, clock: Clock = utcnow
) -> Stream:
    async with db.transaction() as tx:
        stream = await _existing(tx, server_id, stream_id)
        if stream.archived_at is None:
            raise InvalidRequest(
                f"The message stream '{stream_id}' is not archived, so it cannot be unarchived.",
                ErrorCode.STREAM_NOT_ARCHIVED,
            )
        await stream_store.update_stream(tx, server_id, stream_id, clock(), unarchive=True)
        return await _existing(tx, server_id, stream_id)


async def _existing(tx: Tx, server_id: int, stream_id: str) -> Stream:
    stream = await stream_store.get_stream(tx, server_id, stream_id)
    if stream is None:
        raise NotFound(NOT_FOUND, ErrorCode.STREAM_UNKNOWN)
    return stream


def _type_filter(value: str | None) -> StreamType | None:
    if not value or value.lower() == "all":
        return None
    for kind in StreamType:
        if kind.value.lower() == value.lower():
            return kind
    raise InvalidRequest(
        f"Invalid 'MessageStreamType' {value!r}: use All, Inbound, Transactional or Broadcasts.",
        ErrorCode.STREAM_INVALID_TYPE,
    )


def _text(fields: dict[str, Any], key: str) -> str | None:
    """A string field; null and "" count as absent, as in Postmark (reference §11 item 3)."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid '{key}': expected a string.")
    return value


def _new_id(value: Any) -> str:
    if value is None or value == "":
        raise InvalidRequest("A valid 'ID' is required.", ErrorCode.STREAM_ID_REQUIRED)
    if not isinstance(value, str):
        raise InvalidRequest("Invalid 'ID': expected a string.")
    if value.startswith("pm-"):
        raise InvalidRequest(
            "The message stream 'ID' may not start with 'pm-'.", ErrorCode.STREAM_ID_PM_PREFIX
        )
    if value == "all":
        raise InvalidRequest(
            "The message stream 'ID' 'all' is reserved.", ErrorCode.STREAM_ID_RESERVED
        )
    if not _ID_FORMAT.fullmatch(value):
        raise InvalidRequest(
            "The message stream 'ID' must start with a lowercase letter and contain only "
            "lowercase letters, digits, '-' and '_', 30 characters at most.",
            ErrorCode.STREAM_ID_INVALID,
        )
    return value


def _name(fields: dict[str, Any], *, required: bool) -> str | None:
    name = (_text(fields, "Name") or "").strip()
    if not name:
        if required:
            raise InvalidRequest("The 'Name' is required.", ErrorCode.STREAM_NAME_REQUIRED)
        return None
    if len(name) > MAX_NAME:
        raise InvalidRequest(
            f"The 'Name' may not be longer than {MAX_NAME} characters.",
            ErrorCode.STREAM_NAME_TOO_LONG,
        )
    return name


def _description(fields: dict[str, Any]) -> str | None:
    description = _text(fields, "Description")
    if description is None:
        return None
    if len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(
            f"The 'Description' may not be longer than {MAX_DESCRIPTION} characters.",
            ErrorCode.STREAM_DESCRIPTION_TOO_LONG,
        )
    if _HTML_TAG.search(description):
        raise InvalidRequest(
            "The 'Description' may not contain HTML.", ErrorCode.STREAM_DESCRIPTION_HTML
        )
    return description


def _creatable_type(value: Any) -> StreamType:
    if value is None or value == "":
        raise InvalidRequest(
            "The 'MessageStreamType' is required: Transactional or Broadcasts.",
            ErrorCode.STREAM_INVALID_TYPE,
        )
    if value == StreamType.INBOUND.value:
        # Postmark gives a server its one inbound stream itself; Misiva receives no mail.
        raise InvalidRequest(
            "Inbound message streams cannot be created: a server has only one inbound stream.",
            ErrorCode.STREAM_INVALID_TYPE,
        )
    if value not in (StreamType.TRANSACTIONAL.value, StreamType.BROADCASTS.value):
        raise InvalidRequest(
            f"Invalid 'MessageStreamType' {value!r}: use Transactional or Broadcasts.",
            ErrorCode.STREAM_INVALID_TYPE,
        )
    return StreamType(value)


def _check_fixed(stream: Stream, fields: dict[str, Any]) -> None:
    """PATCH may repeat the ID and type (clients send back what they read) but not change them."""
    given_id = fields.get("ID")
    if given_id not in (None, "", stream.stream_id):
        raise InvalidRequest("The message stream 'ID' cannot be changed.")
    given_type = fields.get("MessageStreamType")
    if given_type not in (None, "", stream.stream_type.value):
        raise InvalidRequest(
            "The 'MessageStreamType' of a message stream cannot be changed.",
            ErrorCode.STREAM_INVALID_TYPE,
        )


def _tracking(fields: dict[str, Any]) -> tuple[bool | None, str | None]:
    """Misiva's stream defaults for messages that do not say: TrackOpens and TrackLinks."""
    opens = fields.get("TrackOpens")
    if opens is not None and not isinstance(opens, bool):
        raise InvalidRequest("Invalid 'TrackOpens': expected true or false.")
    links = fields.get("TrackLinks")
    if links is None or links == "":
        return opens, None
    for option in TrackLinks:
        if isinstance(links, str) and option.value.lower() == links.lower():
            return opens, option.value
    choices = ", ".join(option.value for option in TrackLinks)
    raise InvalidRequest(f"Invalid 'TrackLinks' value {links!r}: use one of {choices}.")


def _block_share(fields: dict[str, Any], stream_type: StreamType) -> tuple[bool, int | None]:
    """Misiva's `MaxBlockShare`: (given, percent). Null, when given, means the default."""
    if "MaxBlockShare" not in fields:
        return False, None
    share = fields["MaxBlockShare"]
    if share is None:
        return True, None
    if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
        raise InvalidRequest(
            f"Invalid 'MaxBlockShare' {share!r}: give a whole percent from 0 to 100, or null "
            f"for the default ({DEFAULT_MAX_BLOCK_SHARE_PERCENT})."
        )
    if stream_type is StreamType.BROADCASTS:
        # Commercial mail may be all offer: the service-first bound is for transactional mail.
        raise InvalidRequest(
            "A Broadcasts stream has no limit on content blocks: 'MaxBlockShare' applies to "
            "Transactional streams."
        )
    return True, share


def _settings(fields: dict[str, Any], base: SubscriptionSettings) -> SubscriptionSettings:
    """`base` with the changes that SubscriptionManagementConfiguration and Subscriptions ask."""
    changes: dict[str, Any] = {}
    management = _object(fields, "SubscriptionManagementConfiguration")
    handling = _text(management, "UnsubscribeHandlingType")
    if handling is not None:
        if handling not in {h.value for h in UnsubscribeHandling}:
            raise InvalidRequest(
                f"Invalid 'UnsubscribeHandlingType' {handling!r}: use None, Postmark or Custom."
            )
        changes["unsubscribe_handling"] = UnsubscribeHandling(handling)
    changes.update(_subscription_changes(_object(fields, "Subscriptions")))
    return dataclasses.replace(base, **changes)


def _object(fields: dict[str, Any], key: str) -> dict[str, Any]:
    value = fields.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"Invalid '{key}': expected an object.")
    return value


def _subscription_changes(given: dict[str, Any]) -> dict[str, Any]:
    """Misiva's `Subscriptions` object as SubscriptionSettings fields; null clears the
    templates and From, and leaves the other fields as they are."""
    changes: dict[str, Any] = {}
    opt_in = given.get("RequireConfirmedOptIn")
    if opt_in is not None:
        if not isinstance(opt_in, bool):
            raise InvalidRequest(
                "Invalid 'Subscriptions.RequireConfirmedOptIn': expected true/false."
            )
        changes["require_opt_in"] = opt_in
    hours = given.get("ConfirmationExpiresHours")
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, int):
            raise InvalidRequest(
                "Invalid 'Subscriptions.ConfirmationExpiresHours': expected a number."
            )
        if not 1 <= hours <= MAX_OPT_IN_TTL_HOURS:
            raise InvalidRequest(
                "Invalid 'Subscriptions.ConfirmationExpiresHours': "
                f"use 1 to {MAX_OPT_IN_TTL_HOURS} hours."
            )
        changes["opt_in_ttl_hours"] = hours
    for key, name in _CLEARABLE.items():
        value = given.get(key, "")
        # Only an explicit null clears; "" is absent, as everywhere in Postmark's API.
        if not (isinstance(value, str) and not value.strip()):
            changes[name] = _clearable(key, value)
    notice_stream = _text(given, "NoticeStream")
    if notice_stream is not None:
        changes["notice_stream"] = notice_stream
    return changes


def _clearable(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid 'Subscriptions.{key}': expected a string or null.")
    text = value.strip()
    if key == "From":
        parse_single_address("Subscriptions.From", text)
    elif len(text) > MAX_ALIAS:
        raise InvalidRequest(
            f"Invalid 'Subscriptions.{key}': a template alias has at most {MAX_ALIAS} characters."
        )
    return text


def _check_settings(
    settings: SubscriptionSettings, stream_id: str, stream_type: StreamType, streams: list[Stream]
) -> None:
    """Rules that need the stream's type and its neighbours."""
    if (
        stream_type is StreamType.BROADCASTS
        and settings.unsubscribe_handling is UnsubscribeHandling.NONE
    ):
        # Bulk mail must let recipients leave (RFC 8058 one-click, Gmail and Yahoo's rules).
        raise InvalidRequest(
            "A Broadcasts stream needs UnsubscribeHandlingType Postmark or Custom."
        )
    types = {s.stream_id: s.stream_type for s in streams if s.archived_at is None}
    types[stream_id] = stream_type
    if types.get(settings.notice_stream) is not StreamType.TRANSACTIONAL:
        raise InvalidRequest(
            f"Invalid 'Subscriptions.NoticeStream' {settings.notice_stream!r}: "
            "name an active Transactional stream of this server."
        )
