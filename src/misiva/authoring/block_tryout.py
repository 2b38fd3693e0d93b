"""Try a content block before it reaches anyone: render one variant for a chosen contact the
way a send fills its slot, and find which of a server's contacts its audience rule matches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from misiva.authoring.content_blocks import ContactView, checked_variant
from misiva.domain.contacts import Contact
from misiva.domain.content_blocks import SPLIT_TOTAL, BlockContent, BlockVariant, ContentBlock
from misiva.domain.errors import InvalidRequest
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.records import Server
from misiva.domain.templates import TemplateContent
from misiva.render.blocks import (
    BLOCK_FUNCTION,
    DEFAULT_LOCALE_KEY,
    BlockFiller,
    Chosen,
    compile_rule,
    content_for,
    pick_variant,
    rule_matches,
)
from misiva.render.compile import CompiledTemplate, compile_template
from misiva.render.errors import MissingVariables, TemplateError
from misiva.render.promo import PROMO_VAR
from misiva.render.render import render
from misiva.storage import Database
from misiva.storage import contacts as contact_store

# The rule tester reads at most this many contacts (the first by id): a page's answer stays
# quick on a server with millions, and the page says how many it tested.
MAX_TESTED = 1000
# A template that is nothing but one slot: rendering it through render() fills the slot with
# the send path's own code (BlockFiller: the block's HTML in the sandbox, links marked, the
# text part derived from it), and turns the block's errors into the send path's errors.
_SLOT = "preview"
_ONLY_THE_SLOT = f"{{{{ {BLOCK_FUNCTION}('{_SLOT}') }}}}"


@cache
def _only_the_slot() -> CompiledTemplate:
    content = TemplateContent(html_body=_ONLY_THE_SLOT, text_body=_ONLY_THE_SLOT)
    return compile_template(content, inline=False)


@dataclass(frozen=True, slots=True)
class BlockPreview:
    """A variant rendered for one contact, or why it could not be; and what a send would do."""

    variant: str
    locale: str  # the content's locale key ("es", "default"), "" when it has none to give
    html: str | None = None
    text: str | None = None
    problems: tuple[str, ...] = ()
    # Whether the block's rule matches this contact and model (a send skips it otherwise).
    matches: bool = True
    # An email was given, and no contact has it: rendered as a send to a stranger would be.
    unknown_contact: bool = False


@dataclass(frozen=True, slots=True)
class Matching:
    """The rule tester's answer over the first contacts of a server."""

    tested: int
    total: int
    contacts: tuple[Contact, ...]
    # Each matching contact's variant, when the block's splits are whole (add up to 100).
    variants: Mapping[str, str]


async def preview_block(
    db: Database,
    server: Server,
    block: ContentBlock,
    *,
    variant: str,
    locale: str,
    email: str,
    model: Mapping[str, Any],
    contact_view: ContactView,
) -> BlockPreview:
    """`variant` of the block (saved or as typed) with `email`'s profile and `model`, in
    `locale`'s content (empty: the one a send to this contact gets). Nothing is allocated:
    `promo_code('POOL')` shows `POOL-PREVIEW`, as in the studio."""
    shown = next((v for v in block.variants if v.name == variant), block.variants[0])
    try:
        shown = checked_variant(shown)
    except InvalidRequest as error:
        return BlockPreview(shown.name, locale, problems=(error.message,))
    contact = None
    if email:
        async with db.reading() as tx:
            contact = await contact_store.get_contact(tx, server.id, email)
    reader_locale = (contact.locale if contact else None) or server.default_locale
    key, content = _content(shown, locale, reader_locale)
    namespace = contact_view(contact, email or None)
    found = BlockPreview(
        shown.name,
        key,
        matches=rule_matches(block.rule, {**model, "contact": namespace}),
        unknown_contact=bool(email) and contact is None,
    )
    if content is None:
        return replace(found, problems=(_no_content(shown.name, locale or reader_locale),))
    # The locale dates and money are formatted in: the content's own, else the reader's.
    formats_in = key if key and key != DEFAULT_LOCALE_KEY else reader_locale
    filled = {
        **{k: v for k, v in model.items() if k != PROMO_VAR},
        BLOCK_FUNCTION: BlockFiller({_SLOT: Chosen(block, shown.name, content)}),
    }
    try:
        rendered = render(
            _only_the_slot(),
            filled,
            locale=formats_in,
            contact=namespace,
            server={"name": server.name, "brand": server.brand},
            message={"id": "preview", "stream": DEFAULT_STREAM, "locale": formats_in},
        )
    except MissingVariables as error:
        lacking = ", ".join(error.missing)
        problem = f"The block reads {lacking}, which this contact and model lack."
        return replace(found, problems=(problem,))
    except TemplateError as error:
        return replace(found, problems=tuple(p.message for p in error.errors) or (error.message,))
    return replace(found, html=rendered.html_body, text=rendered.text_body)


def _content(
    variant: BlockVariant, locale: str, reader_locale: str
) -> tuple[str, BlockContent | None]:
    """The content asked for by its key, or the one a send gives the reader (and its key)."""
    if locale:
        return locale, variant.contents.get(locale)
    content = content_for(variant, reader_locale)
    key = next((k for k, c in variant.contents.items() if c is content), "")
    return key, content


def _no_content(variant: str, locale: str) -> str:
    return (
        f"Variant '{variant}' has no content for '{locale}' and no default content: "
        "a send to this contact skips the block."
    )


async def matching_contacts(
    db: Database,
    server_id: int,
    rule: str | None,
    model: Mapping[str, Any],
    contact_view: ContactView,
    *,
    block: ContentBlock | None = None,
    limit: int = MAX_TESTED,
) -> Matching:
    """The contacts among the server's first `limit` (by id) whose profile, as a send sees it,
    with `model` matches `rule` (as typed, saved or not); an InvalidRequest for a rule that
    does not compile. With `block`, each match's A/B variant too."""
    if rule:
        compile_rule(rule)
    async with db.reading() as tx:
        total = await contact_store.count_contacts(tx, server_id)
        tested = await contact_store.contacts_by_id(tx, server_id, limit=limit)
    found = tuple(
        contact
        for _, contact in tested
        if rule_matches(rule, {**model, "contact": contact_view(contact, contact.email)})
    )
    whole = block is not None and sum(v.split for v in block.variants) == SPLIT_TOTAL
    variants = (
        {c.email: pick_variant(block, c.email).name for c in found}
        if block is not None and whole
        else {}
    )
    return Matching(len(tested), total, found, variants)
