"""Without a TextBody, a text template is derived from the HTML once, and reads well."""

from __future__ import annotations

import pytest

from misiva.domain.templates import TemplateContent
from misiva.render import compile_template, render
from misiva.render.text import derive_text

HTML = """{% set shop = server.name %}<!doctype html>
<html lang="es"><head><title>{{ subject }}</title><style>td { padding: 4px }</style></head>
<body>
<div style="display:none;max-height:0">Tu pedido {{ order.id }} {% if vip %}VIP{% endif %}</div>
<!--[if mso]><table><tr><td>{% if mso %}Outlook{% endif %}</td></tr></table><![endif]-->
<a href="https://shop.test"><img src="https://shop.test/logo.png" alt="{{ shop }}"></a>
<h1>Gracias por tu pedido, <em>{{ person.name }}</em></h1>
<p>Tu pedido <strong>#{{ order.id }}</strong> está confirmado. Puedes
<a href="{{ order.url }}">ver el estado</a> o visitar <a href="https://shop.test/">https://shop.test/</a>.</p>
<table role="presentation"><thead><tr><th>Producto</th><th>Cant.</th><th>Precio</th></tr></thead>
<tbody>
{% for line in order.lines %}
<tr><td>{{ line.name }}</td><td>{{ line.qty }}</td><td>{{ line.total | money('EUR') }}</td></tr>
{% endfor %}
</tbody>
<tfoot><tr><td colspan="2">Total</td><td>{{ order.total | money('EUR') }}</td></tr></tfoot>
</table>
<ul><li>Envío gratis</li><li>Devolución en 30 días</li></ul>
<p>Envío a:<br>{{ order.address.line1 }}<br>{{ order.address.city }}</p>
<p>1. No es una lista - ni esto + tampoco (ni * esto)</p>
{% if order.note is defined %}<p>Nota: {{ order.note }}</p>{% endif %}
<hr>
<p>Tienda S.L. &middot; Calle Mayor 1 &amp; 2&nbsp;Madrid ·
<a href="{{ unsubscribe_url }}">Darse de baja</a> ·
<a href="mailto:hola@shop.test">Escríbenos</a></p>
</body></html>"""

MODEL = {
    "subject": "Pedido",
    "mso": False,
    "person": {"name": "Ana"},
    "order": {
        "id": "A-1",
        "url": "https://shop.test/o/A-1",
        "total": 44.8,
        "address": {"line1": "Calle Luna 3", "city": "Sevilla"},
        "lines": [
            {"name": "Camiseta", "qty": 2, "total": 39.8},
            {"name": "Gorra", "qty": 1, "total": 5},
        ],
    },
    "unsubscribe_url": "https://shop.test/u/xyz",
}

EXPECTED = """Tienda (https://shop.test)

Gracias por tu pedido, Ana

Tu pedido #A-1 está confirmado. Puedes ver el estado (https://shop.test/o/A-1) o visitar https://shop.test/.

Producto  Cant.  Precio
Camiseta  2  39,80\xa0€
Gorra  1  5,00\xa0€
Total  44,80\xa0€

- Envío gratis
- Devolución en 30 días

Envío a:
Calle Luna 3
Sevilla

1. No es una lista - ni esto + tampoco (ni * esto)

------------------------

Tienda S.L. · Calle Mayor 1 & 2 Madrid · Darse de baja (https://shop.test/u/xyz) · \
Escríbenos (hola@shop.test)
"""


def _text(html: str, model: dict[str, object], **namespaces: dict[str, object]) -> str:
    compiled = compile_template(TemplateContent(subject="s", html_body=html))
    assert compiled.text is not None and compiled.text.derived
    text = render(compiled, model, locale="es", **namespaces).text_body  # type: ignore[arg-type]
    assert text is not None
    return text


def test_an_order_confirmation_reads_well_as_text() -> None:
    assert _text(HTML, {**MODEL, "vip": True}, server={"name": "Tienda"}) == EXPECTED


def test_a_guarded_paragraph_appears_with_its_value() -> None:
    model = {**MODEL, "vip": False, "order": {**MODEL["order"], "note": "Regalo"}}  # type: ignore[dict-item]
    text = _text(HTML, model, server={"name": "Tienda"})
    assert (
        "Sevilla\n\n1. No es una lista - ni esto + tampoco (ni * esto)\n\nNota: Regalo\n\n---"
        in text
    )


def test_statements_in_hidden_places_keep_the_template_balanced() -> None:
    # The head, the hidden preheader and an Outlook-only comment hold statements; their
    # text is left out, their statements are not, so the derived template still parses.
    source = derive_text(HTML)
    assert "{% set shop = server.name %}" in source
    assert "{% if vip %}{% endif %}" in source
    assert "{% if mso %}{% endif %}" in source
    assert "Outlook" not in source and "VIP" not in source and "{{ subject }}" not in source


TEXT_CASES = [
    ("a link shows its address", '<a href="https://x.test/a">Ver</a>', "Ver (https://x.test/a)\n"),
    ("an address shown once", '<a href="{{ u }}">{{ u }}</a>', "{{ u }}\n"),
    ("anchors are not addresses", '<a href="#top">Arriba</a>', "Arriba\n"),
    ("mailto shows the address", '<a href="mailto:a@x.test">a@x.test</a>', "a@x.test\n"),
    ("an image is its alt text", '<p><img src="x.png" alt="Logo"> Tienda</p>', "Logo Tienda\n"),
    ("decorative images vanish", '<p><img src="x.png" alt="">Hola</p>', "Hola\n"),
    ("no emphasis marks", "<p><b>Hola</b> <i>tú</i> <u>y</u></p>", "Hola tú y\n"),
    ("no heading marks", "<h2>Resumen</h2><p>x</p>", "Resumen\n\nx\n"),
    (
        "no Markdown escapes",
        "<p>2. paso - uno + dos [a] (b) _c_ *d*</p>",
        "2. paso - uno + dos [a] (b) _c_ *d*\n",
    ),
    ("entities decoded", "<p>a &amp; b &lt;c&gt; d&nbsp;e</p>", "a & b <c> d e\n"),
    ("line breaks kept", "<p>a<br>b<br/>c</p>", "a\nb\nc\n"),
    ("hidden attribute", "<p hidden>secret</p><p>shown</p>", "shown\n"),
    ("a hidden pixel", '<p>a<img src="p.gif" alt="pixel" style="display:none">b</p>', "ab\n"),
    ("nested hidden", '<div style="display: none"><div>a</div>b</div><p>c</p>', "c\n"),
    (
        "layout tables are blocks",
        "<table><tr><td><p>A</p></td><td><p>B</p></td></tr></table>",
        "A\n\nB\n",
    ),
    (
        "an inline if stays inline",
        "<p>Hola{% if vip %} VIP{% endif %}.</p>",
        "Hola{% if vip %} VIP{% endif %}.\n",
    ),
]


@pytest.mark.parametrize(("case", "html", "expected"), TEXT_CASES)
def test_text_derivation(case: str, html: str, expected: str) -> None:
    assert derive_text(html) == expected, case


def test_whitespace_control_is_for_the_html_not_the_text() -> None:
    html = "<p>a</p>\n{%- if x -%}\n<p>b {{- y -}} </p>\n{%- endif %}"
    assert derive_text(html) == "a\n\n{% if x %}\n\nb {{ y }}\n\n{% endif %}\n"
    assert _text(html, {"x": True, "y": "!"}) == "a\n\nb !\n"


def test_blank_lines_left_by_tags_are_collapsed_at_render() -> None:
    html = (
        "<p>a</p>\n{% if x %}\n<p>b</p>\n{% endif %}\n{% for i in xs %}<p>{{ i }}</p>{% endfor %}"
    )
    assert _text(html, {"x": False, "xs": []}) == "a\n"
    assert _text(html, {"x": True, "xs": [1, 2]}) == "a\n\nb\n\n1\n\n2\n"


def test_a_text_body_written_by_the_author_is_left_as_written() -> None:
    content = TemplateContent(subject="s", html_body="<p>x</p>", text_body="a\n\n\n  b  \n")
    compiled = compile_template(content)
    assert compiled.text is not None and not compiled.text.derived
    assert render(compiled, {}, locale="es").text_body == "a\n\n\n  b  \n"
