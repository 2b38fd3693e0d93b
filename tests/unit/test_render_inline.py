"""CSS is inlined once per version, and the template's Jinja comes through css-inline intact:
loops between table rows stay in the table, expressions in attributes are not escaped."""

from __future__ import annotations

import pytest

from misiva.domain.templates import TemplateContent
from misiva.render import compile_template, render
from misiva.render.inline import inline_css

STYLE = "<style>td { padding: 4px } .num { text-align: right } p { margin: 0 }</style>"


def _compiled_html(body: str, style: str = STYLE) -> str:
    compiled = compile_template(
        TemplateContent(html_body=f"<html><head>{style}</head><body>{body}</body></html>")
    )
    assert compiled.html is not None and compiled.warnings == ()
    return compiled.html.source


def test_a_loop_between_table_rows_stays_in_the_table() -> None:
    body = (
        "<table><tbody>{% for line in order.lines %}"
        '<tr><td>{{ line.name }}</td><td class="num">{{ line.qty }}</td></tr>'
        "{% endfor %}</tbody></table>"
    )
    source = _compiled_html(body)
    assert (
        "<table><tbody>{% for line in order.lines %}"
        '<tr><td style="padding: 4px;">{{ line.name }}</td>'
        '<td class="num" style="padding: 4px;text-align: right;">{{ line.qty }}</td></tr>'
        "{% endfor %}</tbody></table>"
    ) in source


def test_the_loop_renders_a_row_per_line() -> None:
    body = "<table>{% for l in lines %}<tr><td>{{ l }}</td></tr>{% endfor %}</table>"
    compiled = compile_template(TemplateContent(html_body=f"{STYLE}{body}"))
    html = render(compiled, {"lines": ["a", "b"]}, locale="es").html_body
    # No <tbody> added: opened before the loop, it would be repeated by it.
    assert html == (
        '<table><tr><td style="padding: 4px;">a</td></tr>'
        '<tr><td style="padding: 4px;">b</td></tr></table>'
    )


def test_tables_with_and_without_tbody_side_by_side() -> None:
    body = (
        '<table><tbody class="k"><tr><td>1</td></tr></tbody></table>'
        "<table>{% for l in lines %}<tr><td>{{ l }}</td></tr>{% endfor %}</table>"
    )
    assert (
        '<table><tbody class="k"><tr><td style="padding: 4px;">1</td></tr></tbody></table>'
        '<table>{% for l in lines %}<tr><td style="padding: 4px;">{{ l }}</td></tr>'
        "{% endfor %}</table>"
    ) in _compiled_html(body)


SURVIVES = [
    ("a link", '<a href="{{ reset_url }}">x</a>', '<a href="{{ reset_url }}">x</a>'),
    (
        "a link with a query",
        '<a href="{{ base }}?a=1&amp;b={{ id }}">x</a>',
        '<a href="{{ base }}?a=1&amp;b={{ id }}">x</a>',
    ),
    ("a comparison", "<p>{{ a < b }}</p>", '<p style="margin: 0;">{{ a < b }}</p>'),
    ("markup in a string", "<p>{{ '<b>' ~ x }}</p>", "<p style=\"margin: 0;\">{{ '<b>' ~ x }}</p>"),
    (
        "a dict literal",
        "<i>{{ {'a': {'b': 1}}['a']['b'] }}</i>",
        "<i>{{ {'a': {'b': 1}}['a']['b'] }}</i>",
    ),
    ("a closing brace in a string", "<i>{{ '}}' }}</i>", "<i>{{ '}}' }}</i>"),
    ("a comment", "<i>{# why: }} #}</i>", "<i>{# why: }} #}</i>"),
    (
        "a raw block",
        "<i>{% raw %}{{ literal }}{% endraw %}</i>",
        "<i>{% raw %}{{ literal }}{% endraw %}</i>",
    ),
    (
        "a value in a style",
        '<i style="color: {{ brand }}">x</i>',
        '<i style="color: {{ brand }}">x</i>',
    ),
    (
        "a class",
        '<i class="{% if vip %}gold{% endif %}">x</i>',
        '<i class="{% if vip %}gold{% endif %}">x</i>',
    ),
    (
        "an alt text",
        '<img alt="{{ shop }} logo" src="{{ logo }}">',
        '<img alt="{{ shop }} logo" src="{{ logo }}">',
    ),
    ("in a title", "<title>{{ subject }}</title>", "<title>{{ subject }}</title>"),
    (
        "in an Outlook comment",
        '<!--[if mso]><v:rect fillcolor="{{ c }}"><![endif]-->',
        '<!--[if mso]><v:rect fillcolor="{{ c }}"><![endif]-->',
    ),
]


@pytest.mark.parametrize(("case", "body", "expected"), SURVIVES)
def test_jinja_survives_inlining(case: str, body: str, expected: str) -> None:
    assert expected in _compiled_html(body), case


def test_styles_merge_around_tags_in_a_style_attribute() -> None:
    cells = '<td style="{{ extra }}">a</td><td style="{% if x %}color:red;{% endif %}">b</td>'
    source = _compiled_html(f"<table><tbody><tr>{cells}</tr></tbody></table>")
    assert '<td style="padding: 4px;{{ extra }}">a</td>' in source
    assert '<td style="padding: 4px;{% if x %};color: red;{% endif %}">b</td>' in source


def test_a_tag_where_attributes_go() -> None:
    source = _compiled_html("<input {% if checked %}checked{% endif %}>")
    assert '<input {% if checked %} checked="" {% endif %}>' in source


def test_brand_colours_in_the_stylesheet_are_inlined_too() -> None:
    source = _compiled_html('<a class="btn">x</a>', "<style>.btn { color: {{ brand }} }</style>")
    assert '<a class="btn" style="color: {{ brand }};">x</a>' in source


def test_media_queries_stay_in_a_style_block() -> None:
    style = "<style>p { margin: 0 } @media (max-width: 600px) { p { margin: 4px } }</style>"
    source = _compiled_html("<p>x</p>", style)
    assert "<style>@media (max-width: 600px) { p { margin: 4px } } </style>" in source
    assert '<p style="margin: 0;">x</p>' in source


def test_a_stylesheet_with_statements_is_kept_as_written() -> None:
    style = "<style>p { margin: 0 }</style><style>{% if dark %}p { color: #fff }{% endif %}</style>"
    source = _compiled_html("<p>x</p>", style)
    assert "<style>{% if dark %}p { color: #fff }{% endif %}</style>" in source
    assert '<p style="margin: 0;">x</p>' in source


def test_remote_stylesheets_are_not_fetched() -> None:
    link = '<link rel="stylesheet" href="http://127.0.0.1:9/never.css">'
    source = _compiled_html("<p>x</p>", link + STYLE)
    assert link in source


def test_a_fragment_stays_a_fragment() -> None:
    compiled = compile_template(
        TemplateContent(html_body="<style>p{color:red}</style><p>{{ x }}</p>")
    )
    assert compiled.html is not None
    assert compiled.html.source == '<p style="color: red;">{{ x }}</p>'


def test_without_a_stylesheet_nothing_changes() -> None:
    body = "<table>{% for x in xs %}<tr><td>{{ x }}</td></tr>{% endfor %}</table>"
    assert inline_css(body).html == body


def test_when_tags_would_not_survive_css_is_left_alone_with_a_warning() -> None:
    # Text after </html> is moved into <body> by any HTML parser: the tags would change order.
    source = f"<html><head>{STYLE}</head><body><p>x</p></body></html>{{% if a %}}!{{% endif %}}"
    inlined = inline_css(source)
    assert inlined.html == source
    assert inlined.warning is not None and "not inlined" in inlined.warning


def test_inline_css_can_be_turned_off() -> None:
    compiled = compile_template(TemplateContent(html_body=f"{STYLE}<p>x</p>"), inline=False)
    assert compiled.html is not None and compiled.html.source == f"{STYLE}<p>x</p>"
