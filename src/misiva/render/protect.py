"""Find Jinja tags in a source and swap them for inert placeholders that survive HTML tools."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

_OPENERS = {"{{": "}}", "{%": "%}"}
_RAW_START = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")


class TagKind(StrEnum):
    EXPRESSION = "expression"  # {{ ... }}: prints; may be duplicated or dropped safely
    STATEMENT = "statement"  # {% ... %} (a raw block is one): structure; order is everything
    COMMENT = "comment"  # {# ... #}


@dataclass(frozen=True, slots=True)
class JinjaTag:
    start: int
    end: int
    kind: TagKind
    text: str


def _scan_to_close(source: str, position: int, closer: str) -> int:
    """The end of a `{{`/`{%` tag opened before `position`: Jinja ends it at the first closer
    outside strings and balanced brackets (so `{{ {'a': {'b': 1}} }}` is one tag)."""
    depth = 0
    quote = ""
    index = position
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif depth == 0 and source.startswith(closer, index):
            return index + len(closer)
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        index += 1
    raise ValueError(f"unclosed Jinja tag at offset {position - 2}")


def _tag_at(source: str, start: int) -> JinjaTag:
    opener = source[start : start + 2]
    if opener == "{#":
        end = source.find("#}", start + 2)
        if end < 0:
            raise ValueError(f"unclosed Jinja comment at offset {start}")
        return JinjaTag(start, end + 2, TagKind.COMMENT, source[start : end + 2])
    end = _scan_to_close(source, start + 2, _OPENERS[opener])
    if opener == "{%" and _RAW_START.fullmatch(source, start, end):
        # A raw block is opaque: whatever it holds is literal text, printed as written.
        closing = _RAW_END.search(source, end)
        if closing is None:
            raise ValueError(f"unclosed raw block at offset {start}")
        end = closing.end()
    kind = TagKind.EXPRESSION if opener == "{{" else TagKind.STATEMENT
    return JinjaTag(start, end, kind, source[start:end])


def find_tags(source: str) -> list[JinjaTag]:
    """Every Jinja tag of a source that Jinja has already parsed without error, in order."""
    tags: list[JinjaTag] = []
    position = source.find("{")
    while position >= 0:
        if source[position : position + 2] in ("{{", "{%", "{#"):
            tag = _tag_at(source, position)
            tags.append(tag)
            position = source.find("{", tag.end)
        else:
            position = source.find("{", position + 1)
    return tags


def token_prefix(source: str, base: str) -> str:
    """A placeholder prefix that occurs nowhere in the source (case-insensitively, because
    HTML parsers lowercase the attribute names a tag in tag position becomes)."""
    lowered = source.lower()
    prefix = base
    while prefix in lowered:
        prefix += "q"
    return prefix


@dataclass(frozen=True, slots=True)
class Protected:
    """A source with its Jinja tags swapped out, and what each placeholder stands for."""

    text: str
    tags: list[JinjaTag]
    prefix: str

    def structure_intact(self, seen: list[int]) -> bool:
        """Statements and comments came back exactly once each and in their order; expressions
        may have been copied (a CSS rule inlined into many cells) or dropped."""
        structural = [i for i, tag in enumerate(self.tags) if tag.kind != TagKind.EXPRESSION]
        returned = [i for i in seen if self.tags[i].kind != TagKind.EXPRESSION]
        return returned == structural


Placeholder = Callable[[int, JinjaTag, str], str]


def plain_token(index: int, tag: JinjaTag, prefix: str) -> str:
    """Letters and digits only: nothing escapes, percent-encodes or wraps them, and the closing
    "z" keeps token 1 from being the start of token 12."""
    return f"{prefix}{index}z"


def protect(
    source: str,
    base: str,
    placeholder: Placeholder = plain_token,
    tags: list[JinjaTag] | None = None,
) -> Protected:
    """Replace each tag by `placeholder(index, tag, prefix)`, with a prefix found nowhere in
    the source; restore() puts them back."""
    tags = find_tags(source) if tags is None else tags
    prefix = token_prefix(source, base)
    pieces: list[str] = []
    last = 0
    for index, tag in enumerate(tags):
        pieces.extend((source[last : tag.start], placeholder(index, tag, prefix)))
        last = tag.end
    pieces.append(source[last:])
    return Protected("".join(pieces), tags, prefix)


def restore(text: str, protected: Protected, pattern: re.Pattern[str]) -> tuple[str, list[int]]:
    """Put the tags back; returns the text and the order in which tag indexes came back.
    The pattern's first matching group holds a tag's index."""
    seen: list[int] = []

    def back(match: re.Match[str]) -> str:
        index = int(next(group for group in match.groups() if group is not None))
        seen.append(index)
        return protected.tags[index].text

    return pattern.sub(back, text), seen


def token_pattern(prefix: str) -> re.Pattern[str]:
    """Matches the plain tokens of a prefix; group 1 is the tag's index."""
    return re.compile(re.escape(prefix) + r"(\d+)z")
