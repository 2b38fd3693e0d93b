"""The studio's preview: render a draft as a send would, and say what it needs and lacks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from misiva.authoring.checks import check_content
from misiva.authoring.lines import Problem, missing_problems, problems_of
from misiva.authoring.templates import layout_content
from misiva.domain.errors import MisivaError
from misiva.domain.message import DEFAULT_STREAM
from misiva.domain.records import Server
from misiva.domain.templates import (
    DEFAULT_VARIANT,
    RenderedContent,
    TemplateContent,
    TemplateType,
)
from misiva.render.compile import CompiledTemplate
from misiva.render.errors import MissingVariables, TemplateError
from misiva.render.locales import choose_variant
from misiva.render.model import RESERVED_NAMESPACES, dotted, leaves
from misiva.render.render import check_model, render
from misiva.render.variables import Path
from misiva.storage import Database

TEST_DATA = "TestData"
# The recipient a preview shows when neither the test data nor a chosen contact names one.
_SAMPLE = {"contact": {"email": "preview@example.com"}}


@dataclass(frozen=True, slots=True)
class Draft:
    """What the editor holds: one locale variant's content, maybe never saved."""

    kind: TemplateType
    content: TemplateContent
    layout_alias: str | None
    variant: str  # the variant's key: "default", "es", "es-MX"...


@dataclass(frozen=True, slots=True)
class PreviewData:
    """What to fill the draft with: the test data, and a real contact's profile as sends see
    it (it replaces the test data's `contact`, as a send's profile replaces the model's)."""

    model: dict[str, Any] = field(default_factory=dict)
    contact: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Variables:
    """The variables panel: what the template reads, and what the data lacks."""

    needed: tuple[str, ...]  # required paths ("order.lines[].name" for each item)
    optional: tuple[str, ...]  # paths read behind `is defined` or `| default`
    missing: tuple[str, ...]  # required paths the data lacks (items by index)
    unused: tuple[str, ...]  # keys of the test data that nothing reads
    suggested: dict[str, Any]  # Postmark's SuggestedTemplateModel


@dataclass(frozen=True, slots=True)
class Preview:
    rendered: RenderedContent | None
    problems: tuple[Problem, ...]
    variables: Variables | None
    locale: str
    # Every path the template (with its layout) reads, platform values included: the lint's.
    paths: frozenset[Path] = frozenset()


def render_locale(variant: str, default_locale: str) -> str:
    """The locale a variant formats dates and money in: its own, or the server's default."""
    return default_locale if variant == DEFAULT_VARIANT else variant


def parse_test_data(text: str) -> dict[str, Any] | Problem:
    """The editor's test data: a JSON object (empty text is an empty one), or where it fails."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return Problem(f"Not valid JSON: {error.msg}.", TEST_DATA, error.lineno, error.colno)
    if not isinstance(value, dict):
        return Problem("The test data must be a JSON object ({...}).", TEST_DATA, 1)
    return value


async def preview_draft(db: Database, server: Server, draft: Draft, data: PreviewData) -> Preview:
    """Render a draft the way a send renders the published version: with the published
    layout, the server's brand and a contact's profile; nothing is saved."""
    locale = render_locale(draft.variant, server.default_locale)
    try:
        compiled = await _compile(db, server, draft)
    except TemplateError as error:
        return Preview(None, problems_of(error), None, locale)
    except MisivaError as error:
        return Preview(None, (Problem(error.message),), None, locale)
    namespaces = {
        "contact": data.contact,
        "server": {"name": server.name, "brand": server.brand},
        "message": {"id": "preview", "stream": DEFAULT_STREAM, "locale": locale},
    }
    model = {**_SAMPLE, **data.model}
    variables = variables_of(compiled, model, data.model, namespaces)
    try:
        rendered = render(compiled, model, locale=locale, **namespaces)
    except MissingVariables as error:
        return Preview(None, missing_problems(error.missing, draft.content), variables, locale)
    except TemplateError as error:
        return Preview(None, problems_of(error), variables, locale)
    return Preview(rendered, (), variables, locale, compiled.paths)


async def _compile(db: Database, server: Server, draft: Draft) -> CompiledTemplate:
    layout_alias = draft.layout_alias if draft.kind is TemplateType.STANDARD else None
    async with db.reading() as tx:
        layout = await layout_content(tx, server.id, layout_alias)
    if layout:
        # The layout variant a send of this variant gets (templated sends choose it so).
        chosen = choose_variant(layout.keys(), draft.variant, default_locale=server.default_locale)
        layout = {chosen: layout[chosen]}
    return check_content(draft.kind, draft.content, layout, draft.variant)


def variables_of(
    compiled: CompiledTemplate,
    model: Mapping[str, Any],
    given: Mapping[str, Any],
    namespaces: Mapping[str, Mapping[str, Any] | None],
) -> Variables:
    """What the template reads (needed, or guarded) against what the data holds."""

    needed = _shown(compiled.checks)
    optional = _shown(leaves(compiled.paths)) - needed
    read = {path[0] for path in compiled.paths}
    return Variables(
        needed=tuple(sorted(needed)),
        optional=tuple(sorted(optional)),
        missing=tuple(
            check_model(
                compiled,
                model,
                contact=namespaces.get("contact"),
                server=namespaces.get("server"),
                message=namespaces.get("message"),
            )
        ),
        unused=tuple(sorted(k for k in given if k not in read)),
        suggested=compiled.suggested_model(),
    )


def _shown(paths: Iterable[Path]) -> set[str]:
    """Paths as the panel lists them; the namespaces themselves are always there."""
    return {dotted(p) for p in paths if not (len(p) == 1 and p[0] in RESERVED_NAMESPACES)}
