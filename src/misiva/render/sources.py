"""Check what an author wrote before compiling it: placeholders, syntax, forbidden access."""

from __future__ import annotations

from collections.abc import Iterator

import jinja2

from misiva.domain.templates import LAYOUT_PLACEHOLDER, TemplateContent, TemplateType
from misiva.render.environment import TEXT_ENVIRONMENT
from misiva.render.errors import (
    LayoutPlaceholderError,
    TemplateError,
    TemplateProblem,
    UnsafeTemplate,
)
from misiva.render.variables import refusals, unsupported

# Part names as Postmark's validate response and ValidationErrors name them.
SUBJECT = "Subject"
HTML = "HtmlBody"
TEXT = "TextBody"
MJML = "MjmlBody"

PLACEHOLDER_ONCE = "The layout content placeholder must be present exactly once."
PLACEHOLDER_NOT_HERE = "The layout content placeholder may only appear in a layout."


def _parts(content: TemplateContent) -> Iterator[tuple[str, str]]:
    """The parts an author wrote, by name; MJML, when given, stands for the HTML."""
    if content.subject:
        yield SUBJECT, content.subject
    if content.mjml_body is not None:
        yield MJML, content.mjml_body
    elif content.html_body is not None:
        yield HTML, content.html_body
    if content.text_body is not None:
        yield TEXT, content.text_body


def check_placeholders(
    content: TemplateContent, layout: TemplateContent | None, kind: TemplateType
) -> None:
    """A layout holds Postmark's `{{{ @content }}}` exactly once in each body it has; a
    standard template never (ErrorCode 1131)."""
    problems = []
    if kind == TemplateType.STANDARD:
        for name, source in _parts(content):
            if LAYOUT_PLACEHOLDER in source:
                problems.append(TemplateProblem(name, PLACEHOLDER_NOT_HERE))
    for each in filter(None, [layout, content if kind == TemplateType.LAYOUT else None]):
        bodies = [(name, source) for name, source in _parts(each) if name != SUBJECT]
        if not bodies:
            problems.append(TemplateProblem(HTML, PLACEHOLDER_ONCE))
        for name, source in bodies:
            if source.count(LAYOUT_PLACEHOLDER) != 1:
                problems.append(TemplateProblem(name, PLACEHOLDER_ONCE))
    if problems:
        raise LayoutPlaceholderError(problems)


def _problems_in(name: str, source: str, *, in_layout: bool) -> tuple[list[TemplateProblem], bool]:
    """A part's syntax error, or what it may not do; and whether any of it is unsafe."""
    prefix = "Layout: " if in_layout else ""
    try:
        tree = TEXT_ENVIRONMENT.parse(source.replace(LAYOUT_PLACEHOLDER, ""))
    except jinja2.TemplateSyntaxError as error:
        message = prefix + (error.message or "invalid syntax")
        return [TemplateProblem(name, message, error.lineno)], False
    unsafe = [TemplateProblem(name, prefix + message, line) for message, line in refusals(tree)]
    other = [TemplateProblem(name, prefix + message, line) for message, line in unsupported(tree)]
    return unsafe + other, bool(unsafe)


def check_sources(content: TemplateContent, layout: TemplateContent | None) -> None:
    """Every problem of every part at once, with the author's line numbers: syntax errors
    (TemplateError) and reaching for internals (UnsafeTemplate), before any costly step."""
    problems: list[TemplateProblem] = []
    unsafe = False
    sources = [(name, source, False) for name, source in _parts(content)]
    if layout is not None:
        sources += [(name, source, True) for name, source in _parts(layout) if name != SUBJECT]
    for name, source, in_layout in sources:
        found, refused = _problems_in(name, source, in_layout=in_layout)
        problems.extend(found)
        unsafe = unsafe or refused
    if problems:
        raise (UnsafeTemplate if unsafe else TemplateError)(problems)
