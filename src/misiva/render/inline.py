"""Inline a template's CSS once, at compile time, carrying its Jinja tags through css-inline."""

from __future__ import annotations

import re
from dataclasses import dataclass

import css_inline

from misiva.render.markup import Context, protect_markup, restore_pattern
from misiva.render.protect import JinjaTag, TagKind, find_tags, restore, token_prefix

# @media rules cannot be inlined; keeping them in a <style> block keeps layouts responsive.
# Remote stylesheets are never fetched: compiling must not depend on the network, and a
# template author must not make the server issue requests.
_INLINER = css_inline.CSSInliner(
    keep_at_rules=True, keep_link_tags=True, load_remote_stylesheets=False
)
_TBODY = re.compile(r"<(/?)tbody\b([^>]*)>", re.I)
_TBODY_OPEN = re.compile(r"<tbody\b", re.I)
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.I | re.S)


@dataclass(frozen=True, slots=True)
class Inlined:
    html: str
    warning: str | None = None


def _placeholder(index: int, tag: JinjaTag, context: Context, prefix: str) -> str:
    token = f"{prefix}{index}z"
    if context == Context.TEXT:
        # A comment stays where it is even between <tbody> and <tr>, where a parser would
        # move text out of the table.
        return f"<!--{prefix}c{index}z-->"
    if context == Context.STYLE_DECLARATION:
        # Where a CSS property belongs, a dummy property survives css-inline's merging of
        # declarations, in order; statements get their own declaration.
        return f";{token}:0;" if tag.kind != TagKind.EXPRESSION else f"{token}:0"
    if context == Context.TAG:
        # Where an attribute goes the token becomes one (`token=""`); spaces keep it apart
        # from the attribute written next to it.
        return f" {token} "
    return token


def _stash_dynamic_styles(source: str) -> tuple[str, list[str], str]:
    """<style> elements with Jinja statements inside are kept as written, not inlined: no
    CSS parser can read `{% if %}` between rules."""
    stashed: list[str] = []
    prefix = token_prefix(source, "misivastyle")

    def stash(match: re.Match[str]) -> str:
        if not any(tag.kind != TagKind.EXPRESSION for tag in find_tags(match.group(0))):
            return match.group(0)
        stashed.append(match.group(0))
        return f"<!--{prefix}{len(stashed) - 1}z-->"

    return _STYLE_ELEMENT.sub(stash, source), stashed, prefix


def _drop_implied_tbody(output: str, marker: str) -> str:
    """A parser gives every table a <tbody>, opened at its first <tr>: after a loop's opening
    comment, so a loop over rows would repeat `<tbody>`. The author's own are marked before
    inlining; the others are removed again (mail clients' parsers imply them as well)."""
    pieces: list[str] = []
    written: list[bool] = []
    last = 0
    for match in _TBODY.finditer(output):
        if match.group(1):
            keep = written.pop() if written else True
        else:
            keep = marker in match.group(2)
            written.append(keep)
        pieces.append(output[last : match.start()])
        if keep:
            pieces.append(match.group(0).replace(f' {marker}=""', ""))
        last = match.end()
    pieces.append(output[last:])
    return "".join(pieces)


def inline_css(source: str) -> Inlined:
    """The HTML template source with its <style> rules moved into style attributes. When that
    cannot be done safely the source is kept as written, with a warning saying why."""
    if "<style" not in source.lower():
        return Inlined(source)
    text, stashed, style_prefix = _stash_dynamic_styles(source)
    marker = token_prefix(text, "misivatbody")
    text = _TBODY_OPEN.sub(f"<tbody {marker}", text)
    protected = protect_markup(text, "misivajinja", _placeholder)
    try:
        if "<html" in protected.text.lower():
            output = _INLINER.inline(protected.text)
        else:
            output = _INLINER.inline_fragment(protected.text, "")
    except (css_inline.InlineError, ValueError) as error:
        return Inlined(source, f"CSS was not inlined: {error}.")
    output = _drop_implied_tbody(output, marker)
    restored, seen = restore(output, protected, restore_pattern(protected.prefix))
    if not protected.structure_intact(seen):
        return Inlined(source, "CSS was not inlined: the template's tags did not survive it.")
    for index, element in enumerate(stashed):
        restored = restored.replace(f"<!--{style_prefix}{index}z-->", element, 1)
    return Inlined(restored)
