"""A whole order confirmation: compiled once, rendered per message in well under a millisecond."""

from __future__ import annotations

import time
from typing import Any

import pytest

from misiva.domain.templates import GMAIL_CLIP_BYTES, LAYOUT_PLACEHOLDER, TemplateContent
from misiva.render import CompiledCache, compile_template, html_size_warning, render

LAYOUT = TemplateContent(
    html_body="""{% set es = _locale.startswith('es') %}<!doctype html>
<html lang="{{ _locale }}">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ server.name }}</title>
<style>
  body { margin: 0; padding: 0; background: #f4f4f5; font-family: Helvetica, Arial, sans-serif; }
  .wrapper { width: 100%; background: #f4f4f5; }
  .container { width: 600px; margin: 0 auto; background: #ffffff; }
  .header { padding: 24px; background: {{ server.brand_color | default('#1f2937') }}; }
  .content { padding: 24px; color: #111827; font-size: 16px; line-height: 24px; }
  .footer { padding: 24px; color: #6b7280; font-size: 12px; line-height: 18px; }
  .footer a { color: #6b7280; }
  h1 { font-size: 22px; margin: 0 0 16px; }
  p { margin: 0 0 16px; }
  .button { display: inline-block; padding: 12px 20px; border-radius: 6px; color: #ffffff;
            background: {{ server.brand_color | default('#1f2937') }}; text-decoration: none; }
  @media only screen and (max-width: 620px) { .container { width: 100% !important; } }
</style>
</head>
<body>
<div style="display:none;max-height:0;overflow:hidden">{{ preheader | default('') }}</div>
<table class="wrapper" role="presentation" width="100%" cellpadding="0" cellspacing="0">
<tr><td align="center">
<table class="container" role="presentation" width="600" cellpadding="0" cellspacing="0">
<tr><td class="header">
<img src="{{ server.logo_url }}" alt="{{ server.name }}" width="120">
</td></tr>
<tr><td class="content">
"""
    + LAYOUT_PLACEHOLDER
    + """
</td></tr>
<tr><td class="footer">
<p>{{ server.legal_name }} · {{ server.address }}</p>
<p><a href="{{ message.unsubscribe_url }}">{{ 'Darse de baja' if es else 'Unsubscribe' }}</a></p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
)

ORDER = TemplateContent(
    subject="{{ 'Pedido' if _locale.startswith('es') else 'Order' }} {{ order.number }} ✓",
    html_body="""<h1>{{ 'Gracias' if es else 'Thank you' }},
{{- ' ' ~ contact.first_name | default('') }}</h1>
<p>{{ order.number }} · {{ order.placed_at | date('long') }}</p>
<style>
  .lines td { padding: 8px 0; border-bottom: 1px solid #e5e7eb; }
  .num { text-align: right; }
</style>
<table class="lines" role="presentation" width="100%" cellpadding="0" cellspacing="0">
<thead><tr><th align="left">Producto</th><th>Cant.</th><th class="num">Total</th></tr></thead>
<tbody>
{% for line in order.lines %}
<tr>
  <td>{{ line.name }}{% if line.variant is defined %} ({{ line.variant }}){% endif %}</td>
  <td align="center">{{ line.quantity }}</td>
  <td class="num">{{ line.total | money(order.currency) }}</td>
</tr>
{% endfor %}
</tbody>
<tfoot>
<tr><td colspan="2">Subtotal</td>
<td class="num">{{ order.subtotal | money(order.currency) }}</td></tr>
<tr><td colspan="2">{{ 'Envío' if es else 'Shipping' }}</td>
<td class="num">{{ order.shipping | money(order.currency) }}</td></tr>
<tr><td colspan="2">IVA ({{ order.tax_rate | percent }})</td>
<td class="num">{{ order.tax | money(order.currency) }}</td></tr>
<tr><td colspan="2"><strong>Total</strong></td>
<td class="num"><strong>{{ order.total | money(order.currency) }}</strong></td></tr>
</tfoot>
</table>
<p><strong>{{ 'Dirección de envío' if es else 'Shipping address' }}</strong><br>
{{ order.shipping_address.name }}<br>{{ order.shipping_address.line1 }}<br>
{{ order.shipping_address.postal_code }} {{ order.shipping_address.city }}</p>
<p><a class="button" href="{{ order.url }}">
{{- 'Ver tu pedido' if es else 'View your order' -}}
</a></p>
{% if es %}
<p><strong>Pago</strong><br>{{ order.payment.method }} ·••• {{ order.payment.last4 }}</p>
<p><strong>Entrega estimada</strong><br>Entre el {{ order.delivery.from | date('long') }} y el
{{ order.delivery.to | date('long') }}. Te avisaremos por correo cuando salga del almacén, con el
enlace de seguimiento del transportista.</p>
<p>¿Necesitas cambiar algo? Responde a este correo o escríbenos a
<a href="mailto:{{ server.support_email }}">{{ server.support_email }}</a> antes de que enviemos el
pedido. Tienes 30 días para devolver cualquier artículo sin usar, con su etiqueta; la devolución es
gratuita desde cualquier punto de recogida.</p>
{% else %}
<p><strong>Payment</strong><br>{{ order.payment.method }} ·••• {{ order.payment.last4 }}</p>
<p><strong>Estimated delivery</strong><br>Between {{ order.delivery.from | date('long') }} and
{{ order.delivery.to | date('long') }}. We will email you when it leaves our warehouse, with the
carrier's tracking link.</p>
<p>Need to change something? Reply to this email or write to
<a href="mailto:{{ server.support_email }}">{{ server.support_email }}</a> before we ship your
order. You have 30 days to return any unused item with its tag; returns are free from any
pick-up point.</p>
{% endif %}
""",
)

MODEL: dict[str, Any] = {
    "preheader": "Pedido confirmado",
    "order": {
        "number": "A-1042",
        "placed_at": "2026-03-05T10:15:00Z",
        "currency": "EUR",
        "url": "https://shop.test/orders/A-1042?utm_source=email&utm_medium=tx",
        "lines": [
            {"name": "Camiseta <orgánica>", "variant": "M", "quantity": 2, "total": 39.8},
            {"name": "Gorra", "quantity": 1, "total": 15},
            {"name": "Calcetines", "variant": "39-42", "quantity": 3, "total": 1200},
        ],
        "subtotal": 1254.8,
        "shipping": 4.95,
        "tax_rate": 0.21,
        "tax": 263.51,
        "payment": {"method": "Visa", "last4": "4242"},
        "delivery": {"from": "2026-03-09", "to": "2026-03-11"},
        "total": 1523.26,
        "shipping_address": {
            "name": "Ana García",
            "line1": "Calle Luna 3, 2º B",
            "postal_code": "41001",
            "city": "Sevilla",
        },
    },
}
SERVER = {
    "name": "Tienda",
    "legal_name": "Tienda Ejemplo S.L.",
    "address": "Calle Mayor 1, 28013 Madrid",
    "logo_url": "https://shop.test/logo.png",
    "brand_color": "#0f766e",
    "support_email": "ayuda@shop.test",
}
MESSAGE = {"id": "m-1", "unsubscribe_url": "https://shop.test/u/abc"}


def _render(locale: str, contact: dict[str, Any] | None = None) -> Any:
    compiled = compile_template(ORDER, LAYOUT)
    return render(
        compiled, MODEL, locale=locale, contact=contact or {}, server=SERVER, message=MESSAGE
    )


def test_the_order_confirmation_in_spanish() -> None:
    rendered = _render("es", {"first_name": "Ana"})
    assert rendered.subject == "Pedido A-1042 ✓"
    html = rendered.html_body
    assert '<html lang="es">' in html
    assert "Gracias, Ana</h1>" in html
    assert "5 de marzo de 2026" in html
    assert "Camiseta &lt;orgánica&gt; (M)" in html
    assert ">1.200,00\xa0€</td>" in html and "1.523,26\xa0€" in html and "IVA (21\xa0%)" in html
    assert 'href="https://shop.test/orders/A-1042?utm_source=email&amp;utm_medium=tx"' in html
    assert "background: #0f766e;" in html  # the brand colour, inlined from the stylesheet
    assert "@media only screen and (max-width: 620px)" in html  # kept for small screens
    assert rendered.warnings == ()
    text = rendered.text_body
    assert "Camiseta <orgánica> (M)  2  39,80\xa0€\nGorra  1  15,00\xa0€\n" in text
    assert "Ver tu pedido (https://shop.test/orders/A-1042?utm_source=email&utm_medium=tx)" in text
    assert "Darse de baja (https://shop.test/u/abc)" in text
    assert "Pedido confirmado" not in text  # the hidden preheader


def test_the_order_confirmation_in_english_without_a_contact_name() -> None:
    rendered = _render("en-GB")
    assert rendered.subject == "Order A-1042 ✓"
    assert "Thank you, </h1>" in rendered.html_body
    assert "5 March 2026" in rendered.html_body
    assert "€1,523.26" in rendered.html_body
    assert "Unsubscribe (https://shop.test/u/abc)" in rendered.text_body


def test_what_the_order_confirmation_requires() -> None:
    compiled = compile_template(ORDER, LAYOUT)
    assert compiled.required == {
        "message.unsubscribe_url",
        "order.currency",
        "order.lines",
        "order.delivery.from",
        "order.delivery.to",
        "order.number",
        "order.payment.last4",
        "order.payment.method",
        "order.placed_at",
        "order.shipping",
        "order.shipping_address.city",
        "order.shipping_address.line1",
        "order.shipping_address.name",
        "order.shipping_address.postal_code",
        "order.subtotal",
        "order.tax",
        "order.tax_rate",
        "order.total",
        "order.url",
        "server.address",
        "server.legal_name",
        "server.logo_url",
        "server.name",
        "server.support_email",
    }


def test_a_subject_is_one_line() -> None:
    compiled = compile_template(TemplateContent(subject="Hola\n  {{ name }}\r\n!"))
    assert render(compiled, {"name": "Ana"}, locale="es").subject == "Hola Ana !"


def test_an_html_part_over_gmails_clip_is_reported() -> None:
    compiled = compile_template(TemplateContent(html_body="<p>{{ filler }}</p>"))
    small = render(compiled, {"filler": "x"}, locale="es")
    assert small.warnings == () and compiled.html_size_warning(small.html_body) is None
    big = render(compiled, {"filler": "ñ" * (GMAIL_CLIP_BYTES // 2)}, locale="es")
    assert len(big.warnings) == 1 and "Gmail clips" in big.warnings[0]
    assert html_size_warning("x" * GMAIL_CLIP_BYTES) is None
    assert html_size_warning("x" * (GMAIL_CLIP_BYTES + 1)) is not None


def test_the_cache_compiles_each_version_once_and_forgets_the_oldest() -> None:
    cache = CompiledCache(maxsize=2)
    compiled: list[str] = []

    def compiler(name: str) -> Any:
        def compile_it() -> Any:
            compiled.append(name)
            return compile_template(TemplateContent(subject=name))

        return compile_it

    first = cache.get_or_compile((1, 1, "es"), compiler("a"))
    assert cache.get_or_compile((1, 1, "es"), compiler("a")) is first
    cache.get_or_compile((1, 2, "es"), compiler("b"))
    cache.get((1, 1, "es"))  # used: now the newest
    cache.get_or_compile((2, 1, "es"), compiler("c"))
    assert compiled == ["a", "b", "c"]
    assert (1, 1, "es") in cache and (1, 2, "es") not in cache and len(cache) == 2
    with pytest.raises(ValueError):
        CompiledCache(maxsize=0)


def test_compile_once_render_fast(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints timings (never asserted: machines differ; bench/ keeps the numbers)."""
    source_size = len((LAYOUT.html_body or "").encode()) + len((ORDER.html_body or "").encode())
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        compiled = compile_template(ORDER, LAYOUT)
    compile_ms = (time.perf_counter() - started) / runs * 1000
    renders = 2000
    # Every message has its own amounts, so that no formatted value is reused across them.
    models = [
        {**MODEL, "order": {**MODEL["order"], "total": 1000 + n / 100}} for n in range(renders)
    ]
    samples = []
    for model in models:
        started = time.perf_counter()
        render(compiled, model, locale="es", contact={}, server=SERVER, message=MESSAGE)
        samples.append(time.perf_counter() - started)
    samples.sort()
    p50, p99 = samples[renders // 2] * 1000, samples[renders * 99 // 100] * 1000
    with capsys.disabled():
        print(
            f"\norder confirmation ({source_size / 1024:.1f} KB of source): compile "
            f"{compile_ms:.2f} ms once; render p50 {p50:.3f} ms, p99 {p99:.3f} ms per message"
        )
