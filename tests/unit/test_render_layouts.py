"""A layout wraps a template: its placeholder appears exactly once, and only in layouts."""

from __future__ import annotations

import pytest

from misiva.domain.templates import LAYOUT_PLACEHOLDER, TemplateContent, TemplateType
from misiva.render import (
    LayoutPlaceholderError,
    TemplateError,
    compile_template,
    render,
)

LAYOUT = TemplateContent(
    html_body=(
        "<html><body><header>{{ server.name }}</header>"
        f"{LAYOUT_PLACEHOLDER}<footer>{{{{ server.address }}}}</footer></body></html>"
    ),
    text_body=f"{{{{ server.name }}}}\n\n{LAYOUT_PLACEHOLDER}\n\n{{{{ server.address }}}}\n",
)
CONTENT = TemplateContent(subject="Hola {{ name }}", html_body="<p>Hola {{ name }}</p>")
SERVER = {"name": "Tienda", "address": "Calle Mayor 1, Madrid"}


def test_the_template_goes_where_the_placeholder_is() -> None:
    compiled = compile_template(CONTENT, LAYOUT)
    rendered = render(compiled, {"name": "Ana"}, locale="es", server=SERVER)
    assert rendered.subject == "Hola Ana"
    assert rendered.html_body == (
        "<html><body><header>Tienda</header><p>Hola Ana</p>"
        "<footer>Calle Mayor 1, Madrid</footer></body></html>"
    )


def test_the_layout_reads_the_model_and_is_checked_with_it() -> None:
    layout = TemplateContent(html_body=f"<p>{{{{ brand.slogan }}}}</p>{LAYOUT_PLACEHOLDER}")
    compiled = compile_template(CONTENT, layout)
    assert compiled.required == {"brand.slogan", "name"}


def test_a_layout_set_is_seen_by_the_template() -> None:
    layout = TemplateContent(html_body=f"{{% set shop = server.name %}}{LAYOUT_PLACEHOLDER}")
    compiled = compile_template(TemplateContent(html_body="<p>{{ shop }}</p>"), layout)
    assert compiled.required == {"server.name"}
    assert render(compiled, {}, locale="es", server=SERVER).html_body == "<p>Tienda</p>"


def test_texts_compose_when_both_have_one() -> None:
    content = TemplateContent(subject="s", html_body="<p>x</p>", text_body="Hola {{ name }}")
    rendered = render(
        compile_template(content, LAYOUT), {"name": "Ana"}, locale="es", server=SERVER
    )
    assert rendered.text_body == "Tienda\n\nHola Ana\n\nCalle Mayor 1, Madrid\n"


def test_without_a_text_one_is_derived_from_the_whole_email() -> None:
    rendered = render(
        compile_template(CONTENT, LAYOUT), {"name": "Ana"}, locale="es", server=SERVER
    )
    assert rendered.text_body == "Tienda\n\nHola Ana\n\nCalle Mayor 1, Madrid\n"


def test_a_layout_alone_renders_with_nothing_in_the_placeholder() -> None:
    compiled = compile_template(LAYOUT, kind=TemplateType.LAYOUT)
    rendered = render(compiled, {}, locale="es", server=SERVER)
    assert "<header>Tienda</header><footer>" in (rendered.html_body or "")


PLACEHOLDER_RULES = [
    (
        "a standard template may not hold it",
        TemplateContent(html_body=f"<p>{LAYOUT_PLACEHOLDER}</p>"),
        None,
        TemplateType.STANDARD,
        [("HtmlBody", "may only appear in a layout")],
    ),
    (
        "nor in its subject",
        TemplateContent(subject=LAYOUT_PLACEHOLDER),
        None,
        TemplateType.STANDARD,
        [("Subject", "may only appear in a layout")],
    ),
    (
        "a layout needs it",
        CONTENT,
        TemplateContent(html_body="<p>no placeholder</p>"),
        TemplateType.STANDARD,
        [("HtmlBody", "exactly once")],
    ),
    (
        "once, not twice",
        CONTENT,
        TemplateContent(html_body=LAYOUT_PLACEHOLDER * 2),
        TemplateType.STANDARD,
        [("HtmlBody", "exactly once")],
    ),
    (
        "in each body it has",
        TemplateContent(html_body=LAYOUT_PLACEHOLDER, text_body="no placeholder"),
        None,
        TemplateType.LAYOUT,
        [("TextBody", "exactly once")],
    ),
    (
        "a layout with no body",
        TemplateContent(subject="x"),
        None,
        TemplateType.LAYOUT,
        [("HtmlBody", "exactly once")],
    ),
]


@pytest.mark.parametrize(("case", "content", "layout", "kind", "expected"), PLACEHOLDER_RULES)
def test_placeholder_rules(
    case: str,
    content: TemplateContent,
    layout: TemplateContent | None,
    kind: TemplateType,
    expected: list[tuple[str, str]],
) -> None:
    with pytest.raises(LayoutPlaceholderError) as raised:
        compile_template(content, layout, kind=kind)
    found = [(problem.part, problem.message) for problem in raised.value.errors]
    assert len(found) == len(expected), case
    for (part, message), (want_part, want_words) in zip(found, expected, strict=True):
        assert part == want_part and want_words in message, case
    assert raised.value.error_code == 1131


def test_syntax_errors_name_the_part_and_line_in_template_and_layout() -> None:
    content = TemplateContent(subject="{{ a", html_body="<p>\n\n{% if %}</p>", text_body="ok")
    layout = TemplateContent(html_body=f"<div>\n{{{{ b ) }}}}{LAYOUT_PLACEHOLDER}</div>")
    with pytest.raises(TemplateError) as raised:
        compile_template(content, layout)
    found = [(p.part, p.line, p.message.startswith("Layout: ")) for p in raised.value.errors]
    assert found == [("Subject", 1, False), ("HtmlBody", 3, False), ("HtmlBody", 2, True)]
    assert raised.value.error_code == 1122


def test_an_mjml_template_with_an_mjml_layout() -> None:
    layout = TemplateContent(
        mjml_body=f"<mjml><mj-body><mj-section><mj-column><mj-text>{{{{ server.name }}}}"
        f"</mj-text></mj-column></mj-section>{LAYOUT_PLACEHOLDER}</mj-body></mjml>"
    )
    content = TemplateContent(
        mjml_body="<mj-section><mj-column><mj-text>Hola {{ name }}</mj-text></mj-column>"
        "</mj-section>"
    )
    html = render(compile_template(content, layout), {"name": "Ana"}, locale="es", server=SERVER)
    assert html.html_body is not None
    assert html.html_body.index("Tienda") < html.html_body.index("Hola Ana")


def test_an_html_template_in_an_mjml_layout() -> None:
    layout = TemplateContent(
        mjml_body=f"<mjml><mj-body><mj-section><mj-column><mj-text>{LAYOUT_PLACEHOLDER}"
        "</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    rendered = render(compile_template(CONTENT, layout), {"name": "Ana"}, locale="es")
    assert ">Hola Ana</p>" in (rendered.html_body or "")


def test_an_mjml_template_cannot_go_in_an_html_layout() -> None:
    content = TemplateContent(mjml_body="<mj-section></mj-section>")
    with pytest.raises(TemplateError, match="needs a layout in MJML"):
        compile_template(content, LAYOUT)
