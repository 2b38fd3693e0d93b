"""Service first: on a transactional stream a content block (`block('slot')`) comes after the
transactional content, and takes a bounded share of the message (docs/offers-content-blocks.md).

Two readings: the template source (where its slots are, against its own text), and a rendered
message whose blocks were filled (each block's HTML sits between render.blocks' markers)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from misiva.domain.content import LintCode, LintFinding, Severity, StreamUse
from misiva.domain.content_blocks import DEFAULT_MAX_BLOCK_SHARE_PERCENT
from misiva.domain.templates import TemplateContent
from misiva.lint.html import read_html

# The transactional content is what the email is for: at least this share of the template's
# own text comes before its first slot (the order, the receipt, the reset link first).
MIN_CONTENT_BEFORE_BLOCK = 0.5
# A block is a side offer, not the message: by default at most 30% of the text a reader sees.
DEFAULT_MAX_BLOCK_SHARE = DEFAULT_MAX_BLOCK_SHARE_PERCENT / 100
# How render.blocks marks a filled block in the HTML (a comment: invisible, kept by inlining).
BLOCK_START = "<!--misiva-block-->"
BLOCK_END = "<!--/misiva-block-->"

_SLOT = re.compile(r"\{\{-?\s*block\s*\(")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_FILLED = re.compile(re.escape(BLOCK_START) + r"(.*?)" + re.escape(BLOCK_END), re.DOTALL)


def stream_share(percent: int | None) -> float:
    """A stream's `max_block_share` (percent; None: the default) as the lint's fraction."""
    return DEFAULT_MAX_BLOCK_SHARE if percent is None else percent / 100


def _visible(source: str) -> str:
    return read_html(_JINJA.sub(" ", source)).text


def placement(source: TemplateContent, use: StreamUse) -> Iterator[LintFinding]:
    """A slot placed before most of the template's own text: the offer comes first."""
    if use is StreamUse.COMMERCIAL:
        return
    for part, body in (("HtmlBody", source.html_body), ("MjmlBody", source.mjml_body)):
        found = _SLOT.search(body or "")
        if body is None or found is None:
            continue
        total = len(_visible(body))
        before = len(_visible(body[: found.start()]))
        if total and before / total >= MIN_CONTENT_BEFORE_BLOCK:
            continue
        line = body.count("\n", 0, found.start()) + 1
        yield LintFinding(
            LintCode.BLOCK_BEFORE_CONTENT,
            Severity.ERROR if use is StreamUse.TRANSACTIONAL else Severity.WARNING,
            f"{_prefix(use)}a content block slot comes before the transactional content "
            f"({before / total if total else 0:.0%} of the text precedes it). Place "
            "block('...') after what the email is for: the order, the receipt, the link.",
            part,
            line,
        )


def share(html: str | None, use: StreamUse, max_share: float) -> Iterator[LintFinding]:
    """Filled blocks that take more of the rendered message than the stream allows."""
    if use is StreamUse.COMMERCIAL or not html or BLOCK_START not in html:
        return
    total = len(read_html(html).text)
    blocks = sum(len(read_html(m.group(1)).text) for m in _FILLED.finditer(html))
    if not total or blocks / total <= max_share:
        return
    yield LintFinding(
        LintCode.BLOCK_SHARE,
        Severity.ERROR if use is StreamUse.TRANSACTIONAL else Severity.WARNING,
        f"{_prefix(use)}content blocks are {blocks / total:.0%} of the message's text; "
        f"the stream allows {max_share:.0%}. A service email stays a service email: "
        "shorten the offer or send it on a Broadcasts stream.",
        "HtmlBody",
    )


def _prefix(use: StreamUse) -> str:
    return "" if use is StreamUse.TRANSACTIONAL else "If sent on a transactional stream: "
