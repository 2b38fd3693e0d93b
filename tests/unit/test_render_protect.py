"""Jinja tags are found as Jinja's lexer reads them, and come back exactly as written."""

from __future__ import annotations

import pytest

from misiva.render.markup import Context, contexts
from misiva.render.protect import TagKind, find_tags, protect, restore, token_pattern

TAGS = [
    ("an expression", "a {{ x }} b", [("{{ x }}", TagKind.EXPRESSION)]),
    (
        "a statement",
        "{% if x %}y{% endif %}",
        [("{% if x %}", TagKind.STATEMENT), ("{% endif %}", TagKind.STATEMENT)],
    ),
    ("a comment", "{# a }} b %} #}", [("{# a }} b %} #}", TagKind.COMMENT)]),
    (
        "whitespace control",
        "{%- if x -%}{{- y -}}",
        [("{%- if x -%}", TagKind.STATEMENT), ("{{- y -}}", TagKind.EXPRESSION)],
    ),
    ("closers in strings", "{{ '}}' ~ \"%}\" }}", [("{{ '}}' ~ \"%}\" }}", TagKind.EXPRESSION)]),
    ("an escaped quote", r"{{ 'it\'s }}' }}", [(r"{{ 'it\'s }}' }}", TagKind.EXPRESSION)]),
    ("balanced braces", "{{ {'a': {'b': 1}} }}", [("{{ {'a': {'b': 1}} }}", TagKind.EXPRESSION)]),
    (
        "a raw block is one tag",
        "{% raw %}{{ x }}{% endraw %}!",
        [("{% raw %}{{ x }}{% endraw %}", TagKind.STATEMENT)],
    ),
    ("single braces are text", "a { b } {c}", []),
    ("CSS is text", "p { color: red }", []),
]


@pytest.mark.parametrize(("case", "source", "expected"), TAGS)
def test_find_tags(case: str, source: str, expected: list[tuple[str, TagKind]]) -> None:
    assert [(tag.text, tag.kind) for tag in find_tags(source)] == expected, case


def test_protect_and_restore_round_trip() -> None:
    source = "<p>{{ a }}</p>{% for x in y %}<i>{{ x }}</i>{% endfor %}"
    protected = protect(source, "tok")
    assert protected.text == "<p>tok0z</p>tok1z<i>tok2z</i>tok3z"
    restored, seen = restore(protected.text, protected, token_pattern(protected.prefix))
    assert restored == source and seen == [0, 1, 2, 3]
    assert protected.structure_intact(seen)


def test_the_token_prefix_never_occurs_in_the_source() -> None:
    protected = protect("TOK0z {{ a }}", "tok")
    assert protected.prefix == "tokq"


def test_statements_must_come_back_once_and_in_order_expressions_need_not() -> None:
    protected = protect("{{ a }}{% if b %}{% endif %}", "t")
    assert protected.structure_intact([0, 0, 1, 2])
    assert protected.structure_intact([1, 2])
    assert not protected.structure_intact([0, 2, 1])
    assert not protected.structure_intact([0, 1])


CONTEXTS = [
    ("text", "<p>{{ x }}</p>", Context.TEXT),
    ("between rows", "<table><tr></tr>{% if x %}</table>", Context.TEXT),
    ("attribute value", '<a href="{{ x }}">', Context.VALUE),
    ("single-quoted value", "<a href='{{ x }}'>", Context.VALUE),
    ("a > inside a value", '<a title="a>b" href="{{ x }}">', Context.VALUE),
    ("where attributes go", "<input {{ x }}>", Context.TAG),
    ("a style value", '<p style="color: {{ x }}">', Context.STYLE_VALUE),
    ("a style declaration", '<p style="color: red; {{ x }}">', Context.STYLE_DECLARATION),
    ("a comment", "<!-- {{ x }} -->", Context.COMMENT),
    ("a stylesheet", "<style>p { color: {{ x }} }</style>", Context.RAW),
    ("a title", "<title>{{ x }}</title>", Context.RAW),
    ("after a stylesheet", "<style>p{}</style><p>{{ x }}", Context.TEXT),
    ("a lone less-than", "<p>1 < 2 {{ x }}</p>", Context.TEXT),
    ("after a doctype", "<!doctype html>{{ x }}", Context.TEXT),
]


@pytest.mark.parametrize(("case", "source", "expected"), CONTEXTS)
def test_markup_contexts(case: str, source: str, expected: Context) -> None:
    assert contexts(source, find_tags(source)) == [expected], case
