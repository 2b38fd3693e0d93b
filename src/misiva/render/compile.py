"""Compile one locale variant of a template version, once: everything that does not depend on
a message's data (MJML, the layout, CSS inlining, the derived text, Jinja code) is done here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes

from misiva.domain.templates import (
    GMAIL_CLIP_BYTES,
    LAYOUT_PLACEHOLDER,
    TemplateContent,
    TemplateType,
)
from misiva.render.environment import (
    DERIVED_TEXT_ENVIRONMENT,
    HTML_ENVIRONMENT,
    TEXT_ENVIRONMENT,
    MisivaSandbox,
)
from misiva.render.errors import TemplateError, TemplateProblem
from misiva.render.inline import inline_css
from misiva.render.mjml import mjml_to_html
from misiva.render.model import before_items, dotted, leaves, suggested_model
from misiva.render.promo import promo_calls
from misiva.render.sources import HTML, SUBJECT, TEXT, check_placeholders, check_sources
from misiva.render.text import derive_text
from misiva.render.variables import Path, Usage, analyse


@dataclass(frozen=True, slots=True)
class CompiledPart:
    """One part (Subject, HtmlBody, TextBody) as compiled Jinja code, with the source it came
    from (after MJML, layout and inlining) for inspection."""

    name: str
    template: jinja2.Template
    source: str
    # Render errors can point at the author's line only when the source is theirs, unchanged.
    authored_lines: bool
    # Text derived from HTML is tidied after rendering (blank lines left by tags collapsed).
    derived: bool = False


@dataclass(frozen=True)
class CompiledTemplate:
    """A template variant ready to render many messages."""

    subject: CompiledPart
    html: CompiledPart | None
    text: CompiledPart | None
    required: frozenset[str]  # dotted paths the model must hold (loop items not included)
    checks: tuple[Path, ...]  # what render() checks first, loop items included
    paths: frozenset[Path]  # every path the template reads, guarded or not
    warnings: tuple[str, ...] = field(default=())
    # Pool keys named in `promo_code('KEY')`: allocated per recipient before rendering.
    promo_pools: frozenset[str] = field(default=frozenset())

    def suggested_model(self, *, include_reserved: bool = False) -> dict[str, Any]:
        """Postmark's SuggestedTemplateModel, e.g. {"order": {"total": "total_Value",
        "lines": [{"name": "name_Value"}]}}; contact/server/message only when asked."""
        return suggested_model(self.paths, include_reserved=include_reserved)

    def html_size_warning(self, rendered_html: str | None) -> str | None:
        return html_size_warning(rendered_html)

    def reads(self, *prefix: str) -> bool:
        """Whether the template reads anything under `prefix` (`reads("contact", "history")`):
        what is costly to provide is provided only to templates that read it."""
        return any(path[: len(prefix)] == prefix for path in self.paths)


def html_size_warning(rendered_html: str | None) -> str | None:
    """Gmail clips an HTML part over 102 KB, hiding the rest (often the unsubscribe link)."""
    if rendered_html is None:
        return None
    size = len(rendered_html.encode("utf-8"))
    if size <= GMAIL_CLIP_BYTES:
        return None
    return (
        f"The HTML body is {size:,} bytes; Gmail clips messages whose HTML is over "
        f"{GMAIL_CLIP_BYTES:,} bytes (102 KB)."
    )


def compile_template(
    content: TemplateContent,
    layout: TemplateContent | None = None,
    *,
    kind: TemplateType = TemplateType.STANDARD,
    inline: bool = True,
) -> CompiledTemplate:
    """Compile a variant (with its layout, if any) once per template version, locale and
    layout version. A layout compiled on its own (`kind=LAYOUT`) renders with an empty
    content placeholder. `inline=False` is Postmark's InlineCss: false."""
    if kind == TemplateType.LAYOUT and layout is not None:
        raise ValueError("a layout does not have a layout")
    check_placeholders(content, layout, kind)
    check_sources(content, layout)
    warnings: list[str] = []
    html_source = _html_source(content, layout, kind)
    html_authored = content.mjml_body is None and layout is None
    if html_source is not None and inline:
        inlined = inline_css(html_source)
        html_authored = html_authored and inlined.html == html_source
        html_source = inlined.html
        warnings.extend(filter(None, [inlined.warning]))
    text_source = _compose(content.text_body, layout.text_body if layout else None, kind)
    parts = [_compile_part(SUBJECT, content.subject, TEXT_ENVIRONMENT, authored=True)]
    if html_source is not None:
        parts.append(_compile_part(HTML, html_source, HTML_ENVIRONMENT, authored=html_authored))
    if text_source is not None:
        parts.append(_compile_part(TEXT, text_source, TEXT_ENVIRONMENT, authored=layout is None))
    elif html_source is not None:
        parts.extend(_derived_text(html_source, warnings))
    return _assemble(parts, warnings)


def _compose(body: str | None, layout_body: str | None, kind: TemplateType) -> str | None:
    """A layout's body with the template's body where its placeholder is (textually, so that
    the layout may use the model too); a layout alone renders with nothing there."""
    if kind == TemplateType.LAYOUT:
        return None if body is None else body.replace(LAYOUT_PLACEHOLDER, "", 1)
    if body is None or layout_body is None:
        return body
    return layout_body.replace(LAYOUT_PLACEHOLDER, body, 1)


def _html_source(
    content: TemplateContent, layout: TemplateContent | None, kind: TemplateType
) -> str | None:
    """The HTML template source: MJML compiled, composed with the layout."""
    if content.mjml_body is not None:
        if layout is not None and layout.mjml_body is None and layout.html_body is not None:
            problem = TemplateProblem("MjmlBody", "an MJML template needs a layout in MJML")
            raise TemplateError([problem])
        mjml = _compose(content.mjml_body, layout.mjml_body if layout else None, kind)
        return mjml_to_html(mjml or "")
    layout_html = None
    if layout is not None:
        # An HTML template in an MJML layout: the placeholder rides through mrml as a tag.
        layout_html = mjml_to_html(layout.mjml_body) if layout.mjml_body else layout.html_body
    return _compose(content.html_body, layout_html, kind)


def _parse(env: MisivaSandbox, name: str, source: str) -> nodes.Template:
    try:
        return env.parse(source)
    except jinja2.TemplateSyntaxError as error:
        # The author's source parsed (check_sources); this is ours to fix, not theirs.
        problem = TemplateProblem(name, f"after compiling: {error.message}", error.lineno)
        raise TemplateError([problem]) from error


Parsed = tuple[CompiledPart, nodes.Template]


def _compile_part(
    name: str, source: str, env: MisivaSandbox, *, authored: bool, derived: bool = False
) -> Parsed:
    tree = _parse(env, name, source)
    template = env.template_class.from_code(env, env.compile(tree), env.make_globals(None))
    return CompiledPart(name, template, source, authored, derived), tree


def _derived_text(html_source: str, warnings: list[str]) -> list[Parsed]:
    source = derive_text(html_source)
    try:
        return [_compile_part(TEXT, source, DERIVED_TEXT_ENVIRONMENT, authored=False, derived=True)]
    except TemplateError:
        warnings.append("No text part could be derived from the HTML; add a TextBody.")
        return []


def _assemble(parts: list[Parsed], warnings: list[str]) -> CompiledTemplate:
    usage = Usage()
    for part, tree in parts:
        found = analyse(tree, part.template.environment.globals)
        usage.required |= found.required
        usage.optional |= found.optional
    by_name = {part.name: part for part, _ in parts}
    return CompiledTemplate(
        subject=by_name[SUBJECT],
        html=by_name.get(HTML),
        text=by_name.get(TEXT),
        required=frozenset(dotted(p) for p in leaves(map(before_items, usage.required))),
        checks=leaves(usage.required),
        paths=frozenset(usage.required | usage.optional),
        warnings=tuple(warnings),
        promo_pools=frozenset(key for _, tree in parts for key in promo_calls(tree)),
    )
