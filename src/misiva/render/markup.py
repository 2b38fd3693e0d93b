"""Tell which HTML context each Jinja tag sits in, so that its placeholder survives a parser."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from misiva.render.protect import JinjaTag, Protected, find_tags, protect

_TAG_OPEN = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
HTML_RAW_ELEMENTS = frozenset({"style", "script", "title", "textarea"})


class Context(StrEnum):
    TEXT = "text"  # between elements: a parser may move text here (foster parenting)
    TAG = "tag"  # inside `<td ...>` but outside any attribute value
    VALUE = "value"  # inside a quoted attribute value
    STYLE_DECLARATION = "style-declaration"  # style="...{{ css }}": where a property goes
    STYLE_VALUE = "style-value"  # style="color: {{ brand }}": where a value goes
    COMMENT = "comment"  # inside <!-- ... -->
    RAW = "raw"  # inside <style>, <title>...: text the parser does not read as markup


class _Scanner:
    """A small resumable HTML tokenizer: fed the text between Jinja tags, in order."""

    def __init__(self, raw_elements: frozenset[str]) -> None:
        self.raw_elements = raw_elements
        self.mode = Context.TEXT
        self.raw_end: re.Pattern[str] | None = None
        self.tag_name = ""
        self.end_tag = False
        self.quote = ""
        self.name = ""
        self.last_name = ""
        self.value_name = ""
        self.declaration = ""

    def context(self) -> Context:
        if self.mode != Context.TAG:
            return self.mode
        if not self.quote:
            return Context.TAG
        if self.value_name != "style":
            return Context.VALUE
        if ":" in self.declaration:
            return Context.STYLE_VALUE
        return Context.STYLE_DECLARATION

    def feed(self, text: str) -> None:
        index = 0
        while index < len(text):
            if self.mode == Context.TEXT:
                index = self._text(text, index)
            elif self.mode == Context.COMMENT:
                end = text.find("-->", index)
                index, self.mode = (len(text), self.mode) if end < 0 else (end + 3, Context.TEXT)
            elif self.mode == Context.RAW:
                assert self.raw_end is not None
                match = self.raw_end.search(text, index)
                index, self.mode = (
                    (len(text), self.mode)
                    if match is None
                    else (
                        match.start(),
                        Context.TEXT,
                    )
                )
            else:
                self._tag_char(text[index])
                index += 1

    def _text(self, text: str, index: int) -> int:
        start = text.find("<", index)
        if start < 0:
            return len(text)
        if text.startswith("<!--", start):
            self.mode = Context.COMMENT
            return start + 4
        match = _TAG_OPEN.match(text, start)
        if match is not None:
            self._open_tag(match.group(2).lower(), end_tag=bool(match.group(1)))
            return match.end()
        if text.startswith(("<!", "<?"), start):  # a doctype or processing instruction
            self._open_tag("!", end_tag=False)
            return start + 2
        return start + 1  # a lone "<" is text

    def _open_tag(self, name: str, *, end_tag: bool) -> None:
        self.mode = Context.TAG
        self.tag_name, self.end_tag = name, end_tag
        self.quote = self.name = self.last_name = ""

    def _tag_char(self, char: str) -> None:
        if self.quote:
            if char == self.quote:
                self.quote = ""
            elif char == ";":
                self.declaration = ""
            else:
                self.declaration += char
        elif char in "\"'":
            self.quote, self.value_name, self.declaration = char, self.last_name, ""
        elif char == ">":
            self._close_tag()
        elif char.isspace() or char in "=/":
            self.last_name = self.name.lower() or self.last_name
            self.name = ""
        else:
            self.name += char

    def _close_tag(self) -> None:
        if not self.end_tag and self.tag_name in self.raw_elements:
            self.mode = Context.RAW
            self.raw_end = re.compile(r"</" + re.escape(self.tag_name) + r"[\s/>]", re.I)
        else:
            self.mode = Context.TEXT


def contexts(
    source: str, tags: list[JinjaTag], raw_elements: frozenset[str] = HTML_RAW_ELEMENTS
) -> list[Context]:
    """The markup context of each tag of `source`, in order."""
    scanner = _Scanner(raw_elements)
    found: list[Context] = []
    last = 0
    for tag in tags:
        scanner.feed(source[last : tag.start])
        found.append(scanner.context())
        last = tag.end
    return found


def protect_markup(
    source: str,
    base: str,
    placeholder: Callable[[int, JinjaTag, Context, str], str],
    raw_elements: frozenset[str] = HTML_RAW_ELEMENTS,
) -> Protected:
    """protect(), with a placeholder chosen for the markup context of each tag."""
    tags = find_tags(source)
    found = contexts(source, tags, raw_elements)
    return protect(source, base, lambda i, tag, prefix: placeholder(i, tag, found[i], prefix), tags)


def restore_pattern(prefix: str) -> re.Pattern[str]:
    """Matches what the parsers make of the placeholders: a comment `<!--{prefix}c{n}z-->`,
    a token in tag position as an empty attribute (`token=""`), a token in a style declaration
    as `token: 0`, and a plain token."""
    escaped = re.escape(prefix)
    return re.compile(rf'<!--{escaped}c(\d+)z-->|{escaped}(\d+)z(?:=""|\s*:\s*0)?')
