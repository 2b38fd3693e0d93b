"""Compile an MJML template to HTML once, carrying its Jinja tags through mrml."""

from __future__ import annotations

import re

import mrml

from misiva.render.errors import TemplateError, TemplateProblem
from misiva.render.markup import Context, protect_markup, restore_pattern
from misiva.render.protect import JinjaTag, restore

PART = "MjmlBody"
# Elements whose content mrml copies as text (CSS, the title, the preview line): a comment
# there would be printed, so tags inside them become plain tokens.
_MJML_RAW_ELEMENTS = frozenset({"mj-style", "mj-title", "mj-preview", "style", "title"})
# An MJML template must not read files or URLs on the server: mj-include is refused.
_PARSER_OPTIONS = mrml.ParserOptions(include_loader=mrml.noop_loader())
_POSITION = re.compile(r"at position (\d+):(\d+)")


def _placeholder(index: int, tag: JinjaTag, context: Context, prefix: str) -> str:
    if context == Context.TEXT:
        # mrml keeps comments where they are, between sections and columns too, so a loop
        # around an <mj-section> still wraps what the section becomes.
        return f"<!--{prefix}c{index}z-->"
    token = f"{prefix}{index}z"
    return f" {token} " if context == Context.TAG else token


def _problem(message: str, protected_text: str) -> TemplateProblem:
    match = _POSITION.search(message)
    line = protected_text.count("\n", 0, int(match.group(1))) + 1 if match else None
    return TemplateProblem(PART, message, line=line)


def mjml_to_html(source: str) -> str:
    """The HTML that the MJML source stands for, with its Jinja tags in place."""
    protected = protect_markup(source, "misivajinja", _placeholder, _MJML_RAW_ELEMENTS)
    try:
        output = mrml.to_html(protected.text, parser_options=_PARSER_OPTIONS)
    except OSError as error:
        raise TemplateError([_problem(str(error), protected.text)]) from error
    html, seen = restore(output.content, protected, restore_pattern(protected.prefix))
    if not protected.structure_intact(seen):
        problem = TemplateProblem(PART, "the template tags could not be kept in place by MJML")
        raise TemplateError([problem])
    return html
