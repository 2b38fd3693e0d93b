"""Content blocks as marketers manage them: check and save (rule compiled, splits adding to
100, MJML compiled, HTML parsed), change, delete, list, and the rule tester."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import jinja2

from misiva.domain.clock import Clock, utcnow
from misiva.domain.contacts import Contact
from misiva.domain.content_blocks import (
    SPLIT_TOTAL,
    BlockContent,
    BlockVariant,
    ContentBlock,
    NewContentBlock,
)
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.render.blocks import choose, compile_rule, content_for, pick_variant, rule_matches
from misiva.render.environment import HTML_ENVIRONMENT
from misiva.render.mjml import mjml_to_html
from misiva.storage import Database
from misiva.storage import contacts as contact_store
from misiva.storage import content_blocks as block_store

# Keys and slots are written in templates (`block('cross_sell')`): plain identifiers.
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_VARIANT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

ContactView = Callable[[Contact | None, str | None], dict[str, Any]]


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def checked(new: NewContentBlock) -> NewContentBlock:
    """The block as it will be stored, MJML compiled to HTML; InvalidRequest naming the first
    problem otherwise (a broken rule or block is refused here, never found at send time)."""
    for label, value in (("key", new.key), ("slot", new.slot)):
        if not _NAME.match(value):
            raise _invalid(f"The block's {label} must be 1-100 letters, digits, '_', '.' or '-'.")
    if new.rule:
        compile_rule(new.rule)
    if new.starts_at and new.ends_at and new.ends_at <= new.starts_at:
        raise _invalid("The block's schedule must end after it starts.")
    if not new.variants:
        raise _invalid("A block needs at least one variant with content.")
    names = [v.name for v in new.variants]
    if len(set(names)) != len(names) or not all(_VARIANT.match(n) for n in names):
        raise _invalid("Variant names must be distinct letters, digits, '_' or '-'.")
    if any(v.split < 0 for v in new.variants) or sum(v.split for v in new.variants) != SPLIT_TOTAL:
        raise _invalid(f"The variants' splits must add up to {SPLIT_TOTAL} percent.")
    return replace(new, variants=tuple(checked_variant(v) for v in new.variants))


def checked_variant(variant: BlockVariant) -> BlockVariant:
    """One variant as it will be stored (MJML compiled, HTML parsed): the editor's preview
    checks the variant it shows this way before the whole block is ready to save."""
    if not variant.contents:
        raise _invalid(f"Variant '{variant.name}' has no content.")
    contents = {}
    for locale, content in variant.contents.items():
        html = mjml_to_html(content.mjml) if content.mjml else content.html
        try:
            HTML_ENVIRONMENT.parse(html)
        except jinja2.TemplateSyntaxError as error:
            raise _invalid(
                f"Variant '{variant.name}' ({locale}), line {error.lineno}: {error.message}"
            ) from error
        contents[locale] = BlockContent(html=html, mjml=content.mjml)
    return replace(variant, contents=contents)


def parse_time(value: object, name: str) -> datetime | None:
    """A schedule's time from ISO 8601 (without a zone: UTC); None stays None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise _invalid(f"'{name}' is not an ISO 8601 date and time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RuleTest:
    """What the rule tester answers: whether the rule matches, and what the slot would get."""

    matches: bool
    variant: str | None
    fills_slot: bool
    chosen_block_id: int | None


class ContentBlocks:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create(self, server_id: int, new: NewContentBlock) -> ContentBlock:
        new = checked(new)
        async with self._db.transaction() as tx:
            if await block_store.key_taken(tx, server_id, new.key):
                raise Conflict(f"A block with key '{new.key}' already exists.")
            return await block_store.create_block(tx, server_id, new, self._clock())

    async def get(self, server_id: int, block_id: int) -> ContentBlock:
        async with self._db.reading() as tx:
            found = await block_store.get_block(tx, server_id, block_id)
        if found is None:
            raise NotFound("This content block was not found.", ErrorCode.INVALID_REQUEST)
        return found

    async def list(self, server_id: int, slot: str | None = None) -> list[ContentBlock]:
        async with self._db.reading() as tx:
            return await block_store.list_blocks(tx, server_id, slot=slot)

    async def update(self, server_id: int, block_id: int, new: NewContentBlock) -> ContentBlock:
        new = checked(new)
        async with self._db.transaction() as tx:
            if await block_store.key_taken(tx, server_id, new.key, other_than=block_id):
                raise Conflict(f"A block with key '{new.key}' already exists.")
            found = await block_store.update_block(tx, server_id, block_id, new, self._clock())
        if found is None:
            raise NotFound("This content block was not found.", ErrorCode.INVALID_REQUEST)
        return found

    async def delete(self, server_id: int, block_id: int) -> None:
        async with self._db.transaction() as tx:
            if not await block_store.delete_block(tx, server_id, block_id):
                raise NotFound("This content block was not found.", ErrorCode.INVALID_REQUEST)

    async def test(
        self,
        server_id: int,
        block_id: int,
        email: str,
        model: Mapping[str, Any],
        contact_view: ContactView,
    ) -> RuleTest:
        """The rule against a contact's profile and a model, as a send would see them
        (`contact_view` is the send path's own `contact` namespace, passed by the door)."""
        block = await self.get(server_id, block_id)
        async with self._db.reading() as tx:
            contacts = await contact_store.get_contacts(tx, server_id, [email])
            siblings = await block_store.list_blocks(tx, server_id, slot=block.slot)
        contact = contacts.get(email.lower())
        full = {**model, "contact": contact_view(contact, email)}
        locale = (contact.locale if contact else None) or None
        matches = rule_matches(block.rule, full)
        variant = pick_variant(block, email)
        chosen = choose(siblings, block.slot, full, email=email, locale=locale, now=self._clock())
        return RuleTest(
            matches=matches,
            variant=variant.name if matches else None,
            fills_slot=matches and content_for(variant, locale) is not None,
            chosen_block_id=chosen.block.id if chosen else None,
        )
