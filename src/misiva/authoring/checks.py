"""What a template must pass to be saved: layout placeholder rules, syntax, the sandbox."""

from __future__ import annotations

from typing import Any

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.templates import LAYOUT_PLACEHOLDER, TemplateContent, TemplateType
from misiva.render.compile import CompiledTemplate, compile_template
from misiva.render.errors import UnsafeTemplate
from misiva.render.locales import choose_variant
from misiva.render.render import render

# What a probe render gives the reserved namespaces when the suggested model lacks them.
_PROBE_NAMESPACES: dict[str, Any] = {
    "contact": {"email": "probe@example.com"},
    "server": {"name": "probe", "brand": {}},
    "message": {"id": "probe", "stream": "outbound", "locale": "en"},
}


def check_content(
    kind: TemplateType,
    content: TemplateContent,
    layout: dict[str, TemplateContent] | None,
    locale: str,
) -> CompiledTemplate:
    """Raise a clear error for anything that would fail at send time; return the compiled form."""
    if kind is TemplateType.LAYOUT:
        _check_layout_placeholder(content)
        compiled = compile_template(
            TemplateContent(subject="-", html_body="", text_body=""), content
        )
    else:
        bodies = (content.html_body, content.text_body, content.mjml_body, content.subject)
        if any(LAYOUT_PLACEHOLDER in (body or "") for body in bodies):
            raise InvalidRequest(
                "The layout content placeholder may only be used in a Layout.",
                ErrorCode.LAYOUT_PLACEHOLDER,
            )
        if not (content.html_body or content.text_body or content.mjml_body or content.subject):
            raise InvalidRequest(
                "Provide at least one of Subject, HtmlBody or TextBody.",
                ErrorCode.TEMPLATE_FIELD_MISSING,
            )
        variant = (
            layout[choose_variant(layout.keys(), locale, default_locale=locale)] if layout else None
        )
        compiled = compile_template(content, variant)
    _probe_sandbox(compiled)
    return compiled


def _check_layout_placeholder(content: TemplateContent) -> None:
    html = content.mjml_body or content.html_body
    for part, body in (("HtmlBody", html), ("TextBody", content.text_body)):
        if body is not None and body.count(LAYOUT_PLACEHOLDER) != 1:
            raise InvalidRequest(
                f"The layout content placeholder {LAYOUT_PLACEHOLDER} must be present exactly "
                f"once in the {part}.",
                ErrorCode.LAYOUT_PLACEHOLDER,
            )
    if not (html or content.text_body):
        raise InvalidRequest(
            "A layout needs an HtmlBody or a TextBody.", ErrorCode.TEMPLATE_FIELD_MISSING
        )


def _probe_sandbox(compiled: CompiledTemplate) -> None:
    """Render once with the model the template suggests, so a sandbox escape is refused when
    the template is saved instead of when a customer's email is sent."""
    model = {**_PROBE_NAMESPACES, **compiled.suggested_model()}
    try:
        render(compiled, model, locale="en")
    except UnsafeTemplate:
        raise
    except Exception:
        # Placeholder values can fail filters (money of "total_Value"): that is not unsafe.
        return
