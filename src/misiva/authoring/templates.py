"""Create, edit, version, publish, roll back, diff and delete templates and layouts."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from misiva.authoring.checks import check_content
from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.templates import (
    DEFAULT_VARIANT,
    MAX_TEMPLATES,
    Template,
    TemplateContent,
    TemplateType,
    TemplateVersion,
)
from misiva.storage import Database, Tx
from misiva.storage import templates as template_store

_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """A create or edit as given; None means "leave as it is" (or absent on create)."""

    name: str | None = None
    alias: str | None = None
    subject: str | None = None
    html_body: str | None = None
    text_body: str | None = None
    mjml_body: str | None = None
    template_type: TemplateType | None = None
    # "" removes the layout of a standard template.
    layout_template: str | None = None
    locale: str = DEFAULT_VARIANT
    note: str = ""


@dataclass(frozen=True, slots=True)
class TemplateDetails:
    template: Template
    version: TemplateVersion


def not_found(id_or_alias: str | int) -> NotFound:
    field = "TemplateId" if str(id_or_alias).isdigit() else "TemplateAlias"
    return NotFound(
        f"The '{field}' associated with this request is not valid or was not found.",
        ErrorCode.TEMPLATE_NOT_FOUND,
    )


async def find(tx: Tx, server_id: int, id_or_alias: str | int) -> Template:
    template = await template_store.get_template(tx, server_id, id_or_alias)
    if template is None:
        raise not_found(id_or_alias)
    return template


async def create_template(
    db: Database, server_id: int, fields: TemplateFields, *, clock: Clock = utcnow
) -> TemplateDetails:
    if not fields.name:
        raise InvalidRequest("The 'Name' field is required.", ErrorCode.TEMPLATE_FIELD_MISSING)
    kind = fields.template_type or TemplateType.STANDARD
    _check_alias(fields.alias)
    content = _merge(TemplateContent(), fields)
    async with db.transaction() as tx:
        if await template_store.count_templates(tx, server_id) >= MAX_TEMPLATES:
            raise InvalidRequest(
                f"A server may hold at most {MAX_TEMPLATES} templates.", ErrorCode.TEMPLATE_LIMIT
            )
        if fields.alias and await template_store.get_template(tx, server_id, fields.alias):
            raise InvalidRequest(f"A template with the alias {fields.alias!r} already exists.")
        layout = await _layout_for(tx, server_id, kind, fields.layout_template or None)
        check_content(kind, content, layout, fields.locale)
        now = clock()
        template = await template_store.insert_template(
            tx,
            server_id=server_id,
            alias=fields.alias or None,
            name=fields.name,
            template_type=kind,
            layout_alias=fields.layout_template or None,
            now=now,
        )
        version = await template_store.append_version(
            tx, template.id, {fields.locale: content}, now, note=fields.note, publish=True
        )
        template = await find(tx, server_id, template.id)
    return TemplateDetails(template, version)


async def update_template(
    db: Database,
    server_id: int,
    id_or_alias: str | int,
    fields: TemplateFields,
    *,
    publish: bool = True,
    whole_variant: bool = False,
    clock: Clock = utcnow,
) -> TemplateDetails:
    """Save a new version built on the latest one; publish it at once unless it is a draft.
    `whole_variant`: the fields are the locale's whole content (the studio's editor, where an
    emptied part is removed), not changes to merge into it (the API's PUT)."""
    _check_alias(fields.alias)
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        if fields.template_type and fields.template_type is not template.template_type:
            raise InvalidRequest("A template's TemplateType cannot be changed.")
        latest = await template_store.get_version(tx, template.id, template.latest_version)
        variants = dict(latest.variants) if latest else {}
        base = (
            TemplateContent() if whole_variant else variants.get(fields.locale, TemplateContent())
        )
        variants[fields.locale] = _merge(base, fields)
        layout_alias = (
            template.layout_alias if fields.layout_template is None else fields.layout_template
        )
        layout = await _layout_for(tx, server_id, template.template_type, layout_alias or None)
        check_content(template.template_type, variants[fields.locale], layout, fields.locale)
        now = clock()
        await _rename(tx, template, fields, layout_alias or None, now)
        version = await template_store.append_version(
            tx, template.id, variants, now, note=fields.note, publish=publish
        )
        template = await find(tx, server_id, template.id)
    return TemplateDetails(template, version)


async def _rename(
    tx: Tx, template: Template, fields: TemplateFields, layout_alias: str | None, now: datetime
) -> None:
    changes: dict[str, object] = {}
    if fields.name and fields.name != template.name:
        changes["name"] = fields.name
    if fields.alias is not None and fields.alias != template.alias:
        if fields.alias and await template_store.get_template(tx, template.server_id, fields.alias):
            raise InvalidRequest(f"A template with the alias {fields.alias!r} already exists.")
        changes["alias"] = fields.alias or None
    if layout_alias != template.layout_alias:
        changes["layout_alias"] = layout_alias
    if changes:
        await template_store.update_template(tx, template.id, now, **changes)


async def get_template(
    db: Database, server_id: int, id_or_alias: str | int, version: int | None = None
) -> TemplateDetails:
    """The published version by default (or the latest, for a template never published)."""
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        number = version or template.current_version
        found = await template_store.get_version(tx, template.id, number)
    if found is None:
        raise NotFound(f"Template {template.id} has no version {number}.")
    return TemplateDetails(template, found)


async def list_versions(
    db: Database, server_id: int, id_or_alias: str | int
) -> tuple[Template, list[TemplateVersion]]:
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        return template, await template_store.list_versions(tx, template.id)


async def publish_version(
    db: Database, server_id: int, id_or_alias: str | int, number: int, *, clock: Clock = utcnow
) -> Template:
    """Make a version the one sends use: publishing a draft, or rolling back to an old one."""
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        if await template_store.get_version(tx, template.id, number) is None:
            raise NotFound(f"Template {template.id} has no version {number}.")
        await template_store.set_published(tx, template.id, number, clock())
        return await find(tx, server_id, template.id)


async def diff_versions(
    db: Database, server_id: int, id_or_alias: str | int, old: int, new: int
) -> str:
    """A unified diff of every part of every locale variant between two versions."""
    first = (await get_template(db, server_id, id_or_alias, old)).version
    second = (await get_template(db, server_id, id_or_alias, new)).version
    lines: list[str] = []
    for locale in sorted(first.variants.keys() | second.variants.keys()):
        a = first.variants.get(locale, TemplateContent())
        b = second.variants.get(locale, TemplateContent())
        for part in ("subject", "html_body", "text_body", "mjml_body"):
            # Lines without their ends: a last line with no newline (a subject always) would
            # otherwise run into the next line of the diff.
            lines += difflib.unified_diff(
                (getattr(a, part) or "").splitlines(),
                (getattr(b, part) or "").splitlines(),
                fromfile=f"v{old}/{locale}/{part}",
                tofile=f"v{new}/{locale}/{part}",
                lineterm="",
            )
    return "".join(f"{line}\n" for line in lines)


async def get_test_model(
    db: Database, server_id: int, id_or_alias: str | int
) -> dict[str, Any] | None:
    """The test data the studio previews a template with (Postmark's TestRenderModel)."""
    async with db.reading() as tx:
        template = await find(tx, server_id, id_or_alias)
        return await template_store.get_test_model(tx, template.id)


async def set_test_model(
    db: Database,
    server_id: int,
    id_or_alias: str | int,
    model: dict[str, Any] | None,
    *,
    clock: Clock = utcnow,
) -> Template:
    """Keep new test data with a template; it is no version and changes nothing sent."""
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        await template_store.set_test_model(tx, template.id, model, clock())
    return template


async def delete_template(db: Database, server_id: int, id_or_alias: str | int) -> Template:
    async with db.transaction() as tx:
        template = await find(tx, server_id, id_or_alias)
        if template.template_type is TemplateType.LAYOUT and template.alias:
            total, _ = await template_store.list_templates(
                tx, server_id, layout_alias=template.alias, limit=1
            )
            if total:
                raise MisivaError(
                    "The layout cannot be deleted because templates use it.",
                    ErrorCode.LAYOUT_IN_USE,
                )
        await template_store.delete_template(tx, template.id)
    return template


async def layout_content(
    tx: Tx, server_id: int, layout_alias: str | None
) -> dict[str, TemplateContent] | None:
    """The published variants of a layout, or None when there is no layout."""
    if not layout_alias:
        return None
    layout = await template_store.get_template(tx, server_id, layout_alias)
    if layout is None or layout.template_type is not TemplateType.LAYOUT:
        raise InvalidRequest(
            f"The 'LayoutTemplate' {layout_alias!r} is not a layout of this server.",
            ErrorCode.TEMPLATE_NOT_FOUND,
        )
    number = layout.current_version
    version = await template_store.get_version(tx, layout.id, number)
    return version.variants if version else None


async def _layout_for(
    tx: Tx, server_id: int, kind: TemplateType, layout_alias: str | None
) -> dict[str, TemplateContent] | None:
    if layout_alias and kind is TemplateType.LAYOUT:
        raise InvalidRequest("A layout cannot itself use a layout.")
    return await layout_content(tx, server_id, layout_alias)


def _merge(base: TemplateContent, fields: TemplateFields) -> TemplateContent:
    given = {
        "subject": fields.subject,
        "html_body": fields.html_body,
        "text_body": fields.text_body,
        "mjml_body": fields.mjml_body,
    }
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def _check_alias(alias: str | None) -> None:
    if alias and not _ALIAS.match(alias):
        raise InvalidRequest(
            f"Invalid 'Alias' {alias!r}: start with a letter; use letters, digits, '.', '-' "
            "or '_' (at most 100)."
        )
