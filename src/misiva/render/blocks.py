"""Content blocks at render time: compile audience rules, find the slots a template places,
choose each slot's block and A/B variant for one recipient, and fill `block('slot')`.

Choosing is done before rendering, from blocks already loaded, so `block()` is pure."""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from misiva.domain.content_blocks import (
    SPLIT_TOTAL,
    BlockChoice,
    BlockContent,
    BlockVariant,
    ContentBlock,
)
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.render.compile import CompiledTemplate
from misiva.render.environment import HTML_ENVIRONMENT, TEXT_ENVIRONMENT
from misiva.render.locales import normalise_locale
from misiva.render.promo import promo_calls
from misiva.render.text import derive_text

# The template function that places a slot, and the query parameter that marks a block's
# links: it rides inside the tracked link's signed URL, so a click names its block/variant.
BLOCK_FUNCTION = "block"
BLOCK_LINK_PARAMETER = "misiva_block"
# Around a filled block's HTML (misiva.lint.blocks reads them; kept equal by a test).
BLOCK_START = "<!--misiva-block-->"
BLOCK_END = "<!--/misiva-block-->"
# The content a block falls back to when it has none in the recipient's language.
DEFAULT_LOCALE_KEY = "default"
# Bounded: rule and block sources are few per server, and compiled code is reused by all.
_CACHE_SIZE = 1024
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']*)\2""", re.IGNORECASE)
# Errors a rule can raise on the data it reads: the rule simply does not match.
_RULE_ERRORS = (
    jinja2.UndefinedError,
    SecurityError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    jinja2.TemplateRuntimeError,
)


@lru_cache(maxsize=_CACHE_SIZE)
def compile_rule(rule: str) -> Any:
    """The rule as a callable sandboxed expression; an InvalidRequest naming the problem when
    it does not compile (refused when saved, never found broken at send time)."""
    try:
        return TEXT_ENVIRONMENT.compile_expression(rule)
    except jinja2.TemplateSyntaxError as error:
        raise InvalidRequest(
            f"The audience rule does not compile: {error.message}", ErrorCode.INVALID_REQUEST
        ) from error


def rule_matches(rule: str | None, model: Mapping[str, Any]) -> bool:
    """A missing rule matches everyone; a rule that errors on this model matches no one."""
    if not rule:
        return True
    try:
        return bool(compile_rule(rule)(**model))
    except InvalidRequest:
        return False
    except _RULE_ERRORS:
        return False


def slots_of(compiled: CompiledTemplate) -> frozenset[str]:
    """The slots a template places: every `block('literal')` in its HTML and text parts."""
    found: set[str] = set()
    for part in (compiled.html, compiled.text):
        if part is None:
            continue
        tree = part.template.environment.parse(part.source)
        for call in tree.find_all(nodes.Call):
            if (
                isinstance(call.node, nodes.Name)
                and call.node.name == BLOCK_FUNCTION
                and call.args
                and isinstance(call.args[0], nodes.Const)
                and isinstance(call.args[0].value, str)
            ):
                found.add(call.args[0].value)
    return frozenset(found)


def bucket(key: str, email: str) -> int:
    """The recipient's bucket 0-99 for a block: the same on every send and re-send."""
    digest = hashlib.sha256(f"{key}\n{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SPLIT_TOTAL


def pick_variant(block: ContentBlock, email: str) -> BlockVariant:
    """The variant whose share of buckets holds the recipient's bucket (splits add to 100)."""
    point, start = bucket(block.key, email), 0
    for variant in block.variants:
        start += variant.split
        if point < start:
            return variant
    return block.variants[-1]


def content_for(variant: BlockVariant, locale: str | None) -> BlockContent | None:
    """The variant's content for the locale (exact, then its language), else its default."""
    by_locale = {normalise_locale(k): v for k, v in variant.contents.items()}
    if locale:
        wanted = normalise_locale(locale)
        for candidate in (wanted, wanted.split("-")[0]):
            if candidate in by_locale:
                return by_locale[candidate]
    return variant.contents.get(DEFAULT_LOCALE_KEY)


@dataclass(frozen=True, slots=True)
class Chosen:
    block: ContentBlock
    variant: str
    content: BlockContent


def choose(
    blocks: Iterable[ContentBlock],
    slot: str,
    model: Mapping[str, Any],
    *,
    email: str,
    locale: str | None,
    now: datetime,
) -> Chosen | None:
    """The highest-priority block of the slot that is running, matches and speaks the
    recipient's language (ties to the older block), with the recipient's variant."""
    ranked = sorted((b for b in blocks if b.slot == slot), key=lambda b: (-b.priority, b.id))
    for block in ranked:
        if not block.active_at(now) or not rule_matches(block.rule, model):
            continue
        variant = pick_variant(block, email)
        content = content_for(variant, locale)
        if content is not None:
            return Chosen(block, variant.name, content)
    return None


def mark_links(html: str, block_id: int, variant: str) -> str:
    """Each web link of the block with `misiva_block=ID.VARIANT` in its query."""
    marker = f"{block_id}.{variant}"

    def marked(match: re.Match[str]) -> str:
        parts = urlsplit(htmllib.unescape(match.group(3)))
        query = [*parse_qsl(parts.query, keep_blank_values=True), (BLOCK_LINK_PARAMETER, marker)]
        url = htmllib.escape(urlunsplit(parts._replace(query=urlencode(query))), quote=True)
        return f"{match.group(1)}{match.group(2)}{url}{match.group(2)}"

    return _HREF.sub(marked, html)


def block_of_link(url: str) -> tuple[int, str] | None:
    """The (block id, variant) a clicked link names, if it came from a block."""
    for name, value in parse_qsl(urlsplit(url).query):
        if name == BLOCK_LINK_PARAMETER and "." in value:
            number, _, variant = value.partition(".")
            if number.isdigit():
                return int(number), variant
    return None


def block_details(url: str) -> dict[str, str]:
    """What a click event records of the block its link came from (nothing if none)."""
    found = block_of_link(url)
    return {} if found is None else {"block_id": str(found[0]), "block_variant": found[1]}


@lru_cache(maxsize=_CACHE_SIZE)
def _compiled_html(source: str) -> jinja2.Template:
    return HTML_ENVIRONMENT.from_string(source)


@lru_cache(maxsize=_CACHE_SIZE)
def _pools_of(source: str) -> frozenset[str]:
    """The pool keys a block's HTML names in `promo_code('KEY')`, as for a template."""
    return promo_calls(HTML_ENVIRONMENT.parse(source))


class BlockFiller:
    """`block('slot')` for one message: the chosen block's HTML rendered with the message's
    own context (model, contact, locale; its links marked) in the HTML part, and its text,
    derived from that HTML, in the text part."""

    def __init__(self, chosen: Mapping[str, Chosen]) -> None:
        self._chosen = dict(chosen)
        self._html: dict[str, str] = {}

    @property
    def promo_pools(self) -> frozenset[str]:
        """The pools the chosen blocks name: the accept path allocates the recipient's code
        from each before rendering, as for the template's own `promo_code()` calls."""
        return frozenset(k for c in self._chosen.values() for k in _pools_of(c.content.html))

    @property
    def choices(self) -> tuple[BlockChoice, ...]:
        return tuple(
            BlockChoice(slot, c.block.id, c.variant) for slot, c in sorted(self._chosen.items())
        )

    def html(self, slot: str, variables: Mapping[str, Any]) -> str:
        if slot not in self._html:
            chosen = self._chosen.get(slot)
            if chosen is None:
                self._html[slot] = ""
            else:
                rendered = _compiled_html(chosen.content.html).render(variables)
                marked = mark_links(rendered, chosen.block.id, chosen.variant)
                # Comments, invisible to readers, let the lint measure the block's share.
                self._html[slot] = f"{BLOCK_START}{marked}{BLOCK_END}"
        return self._html[slot]

    @jinja2.pass_context
    def __call__(self, context: jinja2.runtime.Context, slot: str) -> str:
        html = self.html(slot, context.get_all())
        if context.environment.autoescape:
            return Markup(html)
        return derive_text(html).strip() if html else ""
