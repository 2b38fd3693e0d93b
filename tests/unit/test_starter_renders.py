"""Every starter template renders in Spanish and English from its test model, within limits."""

from __future__ import annotations

import pytest

from misiva.authoring.files import TemplateFile, read_folder
from misiva.domain.templates import GMAIL_CLIP_BYTES, TemplateType
from misiva.render.compile import compile_template
from misiva.render.render import render
from misiva.starter import starter_dir

LIBRARY = read_folder(starter_dir() / "templates")
LAYOUTS = {t.alias: t for t in LIBRARY if t.template_type is TemplateType.LAYOUT}
STANDARD = [t for t in LIBRARY if t.template_type is TemplateType.STANDARD]
EXPECTED = {
    "welcome-confirm",
    "password-reset",
    "order-confirmation",
    "payment-receipt",
    "invoice",
    "shipping-notice",
    "information-request",
    "donation-receipt",
    "tax-document",
    "unsubscribe-confirmation",
    "subscription-confirm",
    "subscription-welcome",
}


def test_the_library_has_every_lifecycle_email() -> None:
    assert {t.alias for t in STANDARD} == EXPECTED
    assert all(t.layout in LAYOUTS for t in STANDARD)


@pytest.mark.parametrize("locale", ["es", "en"])
@pytest.mark.parametrize("template", STANDARD, ids=lambda t: t.alias)
def test_renders_from_its_test_model(template: TemplateFile, locale: str) -> None:
    layout = LAYOUTS[template.layout or ""].variants[locale]
    compiled = compile_template(template.variants[locale], layout)
    model = {
        **(template.test_model or {}),
        "contact": {"email": "ana@example.com", "first_name": "Ana"},
        "server": {"name": "Tienda Demo", "brand": {}},
        "message": {"id": "m-1", "stream": "outbound", "locale": locale},
    }
    rendered = render(compiled, model, locale=locale)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.html_body and rendered.text_body
    assert f'lang="{locale}' in rendered.html_body
    assert len(rendered.html_body.encode()) < GMAIL_CLIP_BYTES
    assert "Ana" in rendered.html_body and "Ana" in rendered.text_body
    assert "None" not in rendered.text_body and "{{" not in rendered.html_body
    assert not rendered.warnings
