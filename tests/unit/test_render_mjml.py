"""MJML is compiled to HTML once, and the Jinja inside it comes through mrml in place."""

from __future__ import annotations

import re

import pytest

from misiva.domain.templates import TemplateContent
from misiva.render import TemplateError, compile_template, render

MJML = """<mjml lang="es">
  <mj-head><mj-title>Pedido {{ order.id }}</mj-title><mj-preview>Hola {{ name }}</mj-preview>
  </mj-head>
  <mj-body>
    {% if banner is defined %}
    <mj-section><mj-column><mj-image src="{{ banner }}" alt="{{ shop }}" /></mj-column></mj-section>
    {% endif %}
    <mj-section><mj-column>
      <mj-text>Hola {{ name }}, {{ 'a' if 1 < 2 else 'b' }}</mj-text>
      <mj-table>
        {% for line in order.lines %}
        <tr><td>{{ line.name }}</td><td>{{ line.total | money('EUR') }}</td></tr>
        {% endfor %}
      </mj-table>
      <mj-button href="{{ order.url }}">Ver pedido</mj-button>
    </mj-column></mj-section>
    {% for note in notes %}
    <mj-section><mj-column><mj-text>{{ note }}</mj-text></mj-column></mj-section>
    {% endfor %}
  </mj-body>
</mjml>"""
MODEL = {
    "name": "Ana",
    "shop": "Tienda",
    "notes": ["uno", "dos"],
    "order": {
        "id": "A-1",
        "url": "https://shop.test/o/1",
        "lines": [{"name": "Camiseta", "total": 19.9}, {"name": "Gorra", "total": 5}],
    },
}


def test_jinja_survives_mjml_and_renders() -> None:
    compiled = compile_template(TemplateContent(subject="s", mjml_body=MJML))
    html = render(compiled, MODEL, locale="es").html_body
    assert html is not None
    assert "<title>Pedido A-1</title>" in html
    assert "Hola Ana, a</div>" in html
    assert re.search(r"<td[^>]*>Camiseta</td><td[^>]*>19,90\xa0€</td>", html)
    assert re.search(r"<td[^>]*>Gorra</td><td[^>]*>5,00\xa0€</td>", html)
    assert 'href="https://shop.test/o/1"' in html
    # A loop around a section repeats the whole section, Outlook's tables included.
    assert html.count(">uno</div>") == html.count(">dos</div>") == 1
    assert html.count('<div style="margin:0px auto;max-width:600px;">') == 3
    assert len(re.findall(r'<!--\[if mso \| IE\]><table[^>]*width="600"', html)) == 3
    # The guarded section is left out.
    assert "<img" not in html


def test_the_model_is_read_from_the_mjml() -> None:
    compiled = compile_template(TemplateContent(subject="s", mjml_body=MJML))
    # `shop` is inside a guard on `banner`: a guard covers only the path it tests.
    assert compiled.required == {"name", "notes", "order.id", "order.lines", "order.url", "shop"}
    assert compiled.suggested_model()["banner"] == "banner_Value"


def test_a_section_in_a_guard_renders_when_the_value_is_there() -> None:
    compiled = compile_template(TemplateContent(subject="s", mjml_body=MJML))
    html = render(compiled, {**MODEL, "banner": "https://x.test/b.png"}, locale="es").html_body
    assert html is not None
    assert 'src="https://x.test/b.png"' in html and 'alt="Tienda"' in html


def test_the_text_part_is_derived_from_the_compiled_html() -> None:
    compiled = compile_template(TemplateContent(subject="s", mjml_body=MJML))
    text = render(compiled, MODEL, locale="es").text_body
    assert text == (
        "Hola Ana, a\n\n"
        "Camiseta  19,90\xa0€\n"
        "Gorra  5,00\xa0€\n\n"
        "Ver pedido (https://shop.test/o/1)\n\n"
        "uno\n\n"
        "dos\n"
    )


def test_invalid_mjml_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as raised:
        compile_template(TemplateContent(mjml_body="<mjml><mj-body><mj-section>"))
    assert raised.value.errors[0].part == "MjmlBody"


def test_mjml_cannot_include_files() -> None:
    source = '<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>'
    with pytest.raises(TemplateError, match="unable to load included template"):
        compile_template(TemplateContent(mjml_body=source))


def test_a_jinja_error_in_mjml_names_the_mjml_line() -> None:
    with pytest.raises(TemplateError) as raised:
        compile_template(TemplateContent(mjml_body="<mjml>\n<mj-body>{% for %}</mj-body></mjml>"))
    assert (raised.value.errors[0].part, raised.value.errors[0].line) == ("MjmlBody", 2)
