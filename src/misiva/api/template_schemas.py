"""Templates in Postmark's shapes: request fields in, template records out."""

from __future__ import annotations

from typing import Any

from misiva.authoring.templates import TemplateFields
from misiva.domain.errors import InvalidRequest
from misiva.domain.templates import (
    DEFAULT_VARIANT,
    Template,
    TemplateContent,
    TemplateType,
    TemplateVersion,
)

_TEXT_FIELDS = (
    "Name",
    "Alias",
    "Subject",
    "HtmlBody",
    "TextBody",
    "MjmlBody",
    "LayoutTemplate",
    "Locale",
    "Note",
)


def parse_template_fields(body: dict[str, Any]) -> TemplateFields:
    for name in _TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidRequest(f"Invalid '{name}' value: expected a string.")
    kind = body.get("TemplateType")
    template_type = None
    if kind:
        matches = [t for t in TemplateType if t.value.lower() == str(kind).lower()]
        if not matches:
            raise InvalidRequest(f"Invalid 'TemplateType' {kind!r}: use Standard or Layout.")
        template_type = matches[0]
    return TemplateFields(
        name=body.get("Name"),
        alias=body.get("Alias"),
        subject=body.get("Subject"),
        html_body=body.get("HtmlBody"),
        text_body=body.get("TextBody"),
        mjml_body=body.get("MjmlBody"),
        template_type=template_type,
        layout_template=body.get("LayoutTemplate"),
        locale=body.get("Locale") or DEFAULT_VARIANT,
        note=body.get("Note") or "",
    )


def short_json(template: Template) -> dict[str, Any]:
    """The record POST/PUT and the listing answer with."""
    return {
        "TemplateId": template.id,
        "Name": template.name,
        "Alias": template.alias,
        "Active": template.active,
        "TemplateType": template.template_type.value,
        "LayoutTemplate": template.layout_alias,
        "PublishedVersion": template.published_version,
        "LatestVersion": template.latest_version,
    }


def _variant(version: TemplateVersion, locale: str | None) -> tuple[str, TemplateContent]:
    if locale and locale in version.variants:
        return locale, version.variants[locale]
    if DEFAULT_VARIANT in version.variants:
        return DEFAULT_VARIANT, version.variants[DEFAULT_VARIANT]
    first = sorted(version.variants)[0]
    return first, version.variants[first]


def template_json(
    template: Template, version: TemplateVersion, locale: str | None = None
) -> dict[str, Any]:
    """GET /templates/{id}: Postmark's fields for one variant, with Misiva's version info."""
    shown, content = _variant(version, locale)
    return {
        "Name": template.name,
        "TemplateId": template.id,
        "Alias": template.alias,
        "Subject": content.subject,
        "HtmlBody": content.html_body,
        "TextBody": content.text_body,
        "MjmlBody": content.mjml_body,
        "AssociatedServerId": template.server_id,
        "Active": template.active,
        "TemplateType": template.template_type.value,
        "LayoutTemplate": template.layout_alias,
        "Version": version.number,
        "PublishedVersion": template.published_version,
        "Locale": shown,
        "Locales": sorted(version.variants),
    }


def version_json(version: TemplateVersion, template: Template) -> dict[str, Any]:
    return {
        "Version": version.number,
        "Published": version.number == template.published_version,
        "CreatedAt": version.created_at.isoformat(),
        "Note": version.note,
        "Locales": sorted(version.variants),
    }
