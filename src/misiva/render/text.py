"""Derive a plain-text template from an HTML template once, so that reading it needs no HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import html2text

from misiva.render.protect import TagKind, protect, restore, token_pattern

# A cell boundary, written while converting and turned into SEPARATOR (or dropped at the
# start of a line) afterwards: html2text has no notion of columns once tables are flattened.
_CELL = "\x1f"
SEPARATOR = "  "
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all", re.I)
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
RULE = "-" * 24


class _EmailText(html2text.HTML2Text):
    """html2text, configured to write text for people rather than Markdown: no emphasis marks
    or escapes, links as "text (url)", images as their alt text, table rows as lines, hidden
    elements (preheaders, Outlook-only blocks) left out."""

    def __init__(self, statements: re.Pattern[str], unprotect: Callable[[str], str]) -> None:
        super().__init__(bodywidth=0)
        self.ignore_emphasis = True
        self.unicode_snob = True
        self.ignore_tables = True
        self.ul_item_mark = "-"
        self.statements = statements
        self.unprotect = unprotect
        self.links: list[tuple[str, int]] = []
        self.hidden_tag: str | None = None  # the outermost hidden element being skipped
        self.hidden_depth = 0  # how many of its kind are open inside it, itself included
        self.cells: list[bool] = []  # per open table: inside a cell?
        self.cell_seen: list[bool] = []  # per open table: a cell already in this row?

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        if self.quiet:
            # What is not shown (head, style, hidden text) keeps its statements, so that a
            # `{% set %}` or a loop around it still balances.
            self._out_of_band("".join(self.statements.findall(data)))
        elif self.cells and not self.cells[-1] and data.strip():
            # Text between rows is a loop or an if around them: give it a line of its own.
            self.soft_br()
            super().handle_data(data.strip(), True)
            self.soft_br()
        else:
            # entity_char=True: no Markdown escapes ("1\\." or "\\-") in text for people.
            super().handle_data(data, True)

    def handle_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> None:
        if not self._on_tag(tag, attrs, start):
            super().handle_tag(tag, attrs, start)

    def handle_comment(self, data: str) -> None:
        self._out_of_band("".join(self.statements.findall(data)))

    def _out_of_band(self, statements: str) -> None:
        if statements:
            quiet, self.quiet = self.quiet, 0
            self.soft_br()
            super().handle_data(statements, True)
            self.soft_br()
            self.quiet = quiet

    def _on_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> bool:
        if self._hide(tag, attrs, start):
            return True
        if tag == "a":
            self._link(attrs, start)
        elif tag == "img":
            if start and attrs.get("alt"):
                self.handle_data(f" {attrs['alt']}")
        elif tag in _HEADINGS:
            self.p()
        elif tag == "hr":
            self.p()
            self.o(RULE)
            self.p()
        elif tag in ("table", "tr", "td", "th"):
            self._table(tag, start)
        else:
            return False
        return True

    def _hide(self, tag: str, attrs: dict[str, str | None], start: bool) -> bool:
        """Skip hidden elements: preheaders (display:none), Outlook-only (mso-hide:all)."""
        if self.hidden_tag is not None:
            if tag != self.hidden_tag:
                return False
            self.hidden_depth += 1 if start else -1
            if self.hidden_depth == 0:
                self.hidden_tag = None
                self.quiet -= 1
            return True
        hidden = "hidden" in attrs or _HIDDEN_STYLE.search(attrs.get("style") or "")
        if not (start and hidden):
            return False
        if tag not in _VOID:  # a void element (a tracking pixel) has no content to skip
            self.hidden_tag, self.hidden_depth = tag, 1
            self.quiet += 1
        return True

    def _link(self, attrs: dict[str, str | None], start: bool) -> None:
        if start:
            self.links.append(((attrs.get("href") or "").strip(), len(self.outtextlist)))
            return
        if not self.links:
            return
        href, mark = self.links.pop()
        shown = "".join(self.outtextlist[mark:])
        target = href.removeprefix("mailto:").removeprefix("tel:")
        # Compared as the author wrote them: `<a href="{{ url }}">{{ url }}</a>` shows it once.
        repeated = self.unprotect(target) in self.unprotect(shown)
        if target and not href.startswith("#") and not repeated:
            space = "" if shown[-1:].isspace() else " "
            self.o(f"{space}({target})" if shown.strip() else target)

    def _table(self, tag: str, start: bool) -> None:
        if tag == "table":
            if start:
                self.cells.append(False)
                self.cell_seen.append(False)
            elif self.cells:
                self.cells.pop()
                self.cell_seen.pop()
            self.p()  # a table is a block of its own
        elif not self.cells:
            return
        elif tag == "tr":
            self.cells[-1] = self.cell_seen[-1] = False
            self.soft_br()
        elif start:
            if self.cell_seen[-1]:
                self.o(_CELL)
            self.cells[-1] = self.cell_seen[-1] = True
        else:
            self.cells[-1] = False


def _tidy(text: str) -> str:
    text = text.replace("\xa0", " ")
    lines = []
    for line in text.split("\n"):
        line = re.sub(rf"\s*{_CELL}\s*", _CELL, line.strip())
        lines.append(line.strip(_CELL).replace(_CELL, SEPARATOR))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


_RAW_BLOCK = re.compile(r"\{%[-+]?\s*raw\b")
_TRIM_AFTER_OPEN = re.compile(r"^(\{[{%#])[-+]")
_TRIM_BEFORE_CLOSE = re.compile(r"[-+]([}%#]\})$")


def _no_trim(tag: str) -> str:
    if _RAW_BLOCK.match(tag):
        return tag  # a raw block's inside is literal text
    return _TRIM_BEFORE_CLOSE.sub(r"\1", _TRIM_AFTER_OPEN.sub(r"\1", tag))


def derive_text(html: str) -> str:
    """The text template for an HTML template source (Jinja tags kept where they belong)."""
    protected = protect(html, "misivatext")
    pattern = token_pattern(protected.prefix)
    statements = re.compile(
        "|".join(
            re.escape(f"{protected.prefix}{index}z")
            for index, tag in enumerate(protected.tags)
            if tag.kind != TagKind.EXPRESSION
        )
        or r"(?!)"  # matches nothing: a template without statements
    )

    # The text's lines and blank lines are html2text's, not the HTML source's: whitespace
    # control (`{{- x -}}`, `{%- if %}`) written for the HTML would glue paragraphs together.
    plain = replace(
        protected, tags=[replace(tag, text=_no_trim(tag.text)) for tag in protected.tags]
    )

    def unprotect(text: str) -> str:
        return restore(text, plain, pattern)[0]

    converter = _EmailText(statements, unprotect)
    return unprotect(_tidy(converter.handle(protected.text)))
