"""The studio's editor as data: what it shows of a template, read from storage or from its
posted form, and turned into a draft to preview, save or send as a test."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from misiva.authoring.lines import Problem
from misiva.authoring.preview import Draft, PreviewData, parse_test_data
from misiva.authoring.templates import TemplateFields
from misiva.domain.records import Server
from misiva.domain.templates import (
    Template,
    TemplateContent,
    TemplateType,
    TemplateVersion,
)
from misiva.ingest.templated import contact_namespace
from misiva.render.locales import choose_variant
from misiva.storage import Database
from misiva.storage import contacts as contact_store
from misiva.storage import templates as template_store
from misiva.web.forms import Form
from misiva.web.i18n import N_

# A variant's key: a language tag (es, es-MX) or "default".
_VARIANT = re.compile(r"^(default|[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*)$")
CONTACT = "Contact"
# The parts a problem can be in, as the editor names them.
PARTS = {
    "Subject": N_("Subject"),
    "HtmlBody": N_("HTML"),
    "MjmlBody": N_("MJML"),
    "TextBody": N_("Text"),
    "TestData": N_("Test data (JSON)"),
    CONTACT: N_("Contact"),
    "Test": N_("Send a test"),
}


@dataclass(frozen=True, slots=True)
class Editing:
    """One locale variant of a template in the editor, with what the page shows beside it."""

    template: Template
    versions: list[TemplateVersion]
    layouts: list[Template]
    variants: list[str]  # the latest version's variant keys
    variant: str
    content: TemplateContent  # as stored in the latest version, or as posted
    stored: TemplateContent | None  # the latest version's content of this variant
    layout_alias: str | None
    test_data: str  # JSON text
    stored_test_data: dict[str, object] | None
    contact: str = ""  # a contact's email to render with, instead of the test data's

    @property
    def mjml(self) -> bool:
        return self.content.mjml_body is not None

    @property
    def body(self) -> str:
        return self.content.mjml_body or self.content.html_body or ""

    @property
    def is_new_variant(self) -> bool:
        return self.variant not in self.variants


def valid_variant(key: str) -> bool:
    return bool(_VARIANT.match(key))


async def load(
    db: Database, server: Server, template_id: int, variant: str | None
) -> Editing | None:
    """The latest version of a template's variant (a new variant starts as a copy of the
    default one); None for a template that is not this server's."""
    async with db.reading() as tx:
        template = await template_store.get_template(tx, server.id, template_id)
        if template is None:
            return None
        versions = await template_store.list_versions(tx, template.id)
        _, layouts = await template_store.list_templates(
            tx, server.id, template_type=TemplateType.LAYOUT, limit=500
        )
        test_model = await template_store.get_test_model(tx, template.id)
    latest = versions[-1].variants if versions else {}
    keys = sorted(latest)
    fallback = choose_variant(keys, server.default_locale, default_locale=server.default_locale)
    chosen = variant if variant and valid_variant(variant) else fallback
    stored = latest.get(chosen)
    return Editing(
        template=template,
        versions=versions,
        layouts=layouts,
        variants=keys,
        variant=chosen,
        content=stored or latest.get(fallback) or TemplateContent(),
        stored=stored,
        layout_alias=template.layout_alias,
        test_data=json.dumps(test_model, indent=2, ensure_ascii=False) if test_model else "",
        stored_test_data=test_model,
    )


def posted(editing: Editing, form: Form) -> Editing:
    """The editor as its form was posted (the fields left out keep their stored value)."""
    body = form.get("body", editing.body) or None
    mjml = form.get("format", "mjml" if editing.mjml else "html") == "mjml"
    content = TemplateContent(
        subject=form.get("subject", editing.content.subject),
        html_body=None if mjml else body,
        text_body=form.get("text", editing.content.text_body or "") or None,
        mjml_body=(body or "") if mjml else None,
    )
    layout = form.get("layout", editing.layout_alias or "") or None
    return replace(
        editing,
        content=content,
        layout_alias=layout if editing.template.template_type is TemplateType.STANDARD else None,
        test_data=form.get("test_data", editing.test_data),
        contact=form.get("contact", "").strip(),
    )


def draft(editing: Editing) -> Draft:
    return Draft(
        editing.template.template_type, editing.content, editing.layout_alias, editing.variant
    )


def fields(editing: Editing, note: str) -> TemplateFields:
    """A save of the variant's whole content (with update_template's whole_variant)."""
    content = editing.content
    standard = editing.template.template_type is TemplateType.STANDARD
    return TemplateFields(
        subject=content.subject,
        html_body=content.html_body,
        text_body=content.text_body,
        mjml_body=content.mjml_body,
        layout_template=(editing.layout_alias or "") if standard else None,
        locale=editing.variant,
        note=note,
    )


def content_changed(editing: Editing) -> bool:
    return (
        editing.is_new_variant
        or editing.content != editing.stored
        or editing.layout_alias != editing.template.layout_alias
    )


async def preview_data(db: Database, server_id: int, editing: Editing) -> PreviewData | Problem:
    """The test data, and the chosen contact's profile merged as a send merges it."""
    model = parse_test_data(editing.test_data)
    if isinstance(model, Problem):
        return model
    if not editing.contact:
        return PreviewData(model)
    async with db.reading() as tx:
        contact = await contact_store.get_contact(tx, server_id, editing.contact)
    if contact is None:
        return Problem(f"No contact {editing.contact} on this server.", CONTACT)
    return PreviewData(model, contact_namespace(contact, contact.email))
