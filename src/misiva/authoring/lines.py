"""Where a template's problems are: its errors as part and line, and the line that reads each
variable the data lacks (render reports the variable; the author needs to find it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

from misiva.domain.templates import LAYOUT_PLACEHOLDER, TemplateContent
from misiva.render.environment import TEXT_ENVIRONMENT
from misiva.render.errors import TemplateError

_INDEX = re.compile(r"\[\d*\]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix: the part it is in (None: the template as a whole) and its line."""

    message: str
    part: str | None = None  # Subject | HtmlBody | MjmlBody | TextBody | TestData
    line: int | None = None
    column: int | None = None
    # For a variable the data lacks: its path (the UI words the message in its language).
    variable: str | None = None


def problems_of(error: TemplateError) -> tuple[Problem, ...]:
    found = tuple(Problem(p.message, p.part, p.line, p.column) for p in error.errors)
    return found or (Problem(error.message),)


def missing_problems(missing: Iterable[str], content: TemplateContent) -> tuple[Problem, ...]:
    """One problem per missing path, at the first line of the author's parts that reads it
    (the longest matching start of the path: a loop item's path points at its `for`)."""
    problems = []
    for path in missing:
        part, line = _first_use(_segments(path), content)
        message = f"The TemplateModel is missing required variable: {path}."
        problems.append(Problem(message, part, line, variable=path))
    return tuple(problems)


def _segments(path: str) -> tuple[str, ...]:
    """ "order.lines[1].name" → ("order", "lines", "name")."""
    return tuple(s for s in _INDEX.sub("", path).split(".") if s)


def _parts(content: TemplateContent) -> Iterator[tuple[str, str]]:
    yield "Subject", content.subject
    if content.mjml_body is not None:
        yield "MjmlBody", content.mjml_body
    elif content.html_body is not None:
        yield "HtmlBody", content.html_body
    if content.text_body is not None:
        yield "TextBody", content.text_body


def _first_use(
    segments: tuple[str, ...], content: TemplateContent
) -> tuple[str | None, int | None]:
    """The part and line of the best match: the longest, then the first part, then the
    first line."""
    found = [
        (-matched, order, line, part)
        for order, (part, source) in enumerate(_parts(content))
        for matched, line in _uses(source, segments)
    ]
    if not found:
        return None, None
    best = min(found)
    return best[3], best[2]


def _uses(source: str, segments: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    """(how many leading segments a reference matches, its line) for each reference."""
    try:
        tree = TEXT_ENVIRONMENT.parse(source.replace(LAYOUT_PLACEHOLDER, ""))
    except jinja2.TemplateSyntaxError:
        return
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        chain = _chain(node)
        matched = 0
        for have, want in zip(chain, segments, strict=False):
            if have != want:
                break
            matched += 1
        if matched:
            yield matched, node.lineno


def _chain(node: nodes.Node) -> tuple[str, ...]:
    """The names a reference reads: `order.lines` → ("order", "lines"); () for anything else."""
    if isinstance(node, nodes.Name):
        return (node.name,)
    if isinstance(node, nodes.Getattr):
        base = _chain(node.node)
        return (*base, node.attr) if base else ()
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _chain(node.node)
        key = node.arg.value
        return (*base, key) if base and isinstance(key, str) else ()
    return ()
