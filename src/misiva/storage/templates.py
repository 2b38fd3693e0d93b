"""Templates and their immutable versions: save appends, publish and rollback move a pointer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.templates import Template, TemplateContent, TemplateType, TemplateVersion
from misiva.storage.engine import Tx
from misiva.storage.tables import template_versions, templates


def _template(row: Any) -> Template:
    return Template(
        id=row.id,
        server_id=row.server_id,
        alias=row.alias,
        name=row.name,
        template_type=TemplateType(row.template_type),
        layout_alias=row.layout_alias,
        published_version=row.published_version,
        latest_version=row.latest_version,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def variants_to_json(variants: dict[str, TemplateContent]) -> dict[str, dict[str, str | None]]:
    return {
        locale: {
            "Subject": c.subject,
            "HtmlBody": c.html_body,
            "TextBody": c.text_body,
            "MjmlBody": c.mjml_body,
        }
        for locale, c in variants.items()
    }


def _variants(stored: dict[str, dict[str, str | None]]) -> dict[str, TemplateContent]:
    return {
        locale: TemplateContent(
            subject=v.get("Subject") or "",
            html_body=v.get("HtmlBody"),
            text_body=v.get("TextBody"),
            mjml_body=v.get("MjmlBody"),
        )
        for locale, v in stored.items()
    }


def _version(row: Any) -> TemplateVersion:
    return TemplateVersion(
        id=row.id,
        template_id=row.template_id,
        number=row.number,
        variants=_variants(row.variants),
        created_at=row.created_at,
        note=row.note,
    )


async def insert_template(
    tx: Tx,
    *,
    server_id: int,
    alias: str | None,
    name: str,
    template_type: TemplateType,
    layout_alias: str | None,
    now: datetime,
) -> Template:
    result = await tx.execute(
        sa.insert(templates)
        .values(
            server_id=server_id,
            alias=alias,
            name=name,
            template_type=template_type.value,
            layout_alias=layout_alias,
            published_version=None,
            latest_version=0,
            active=True,
            created_at=now,
            updated_at=now,
        )
        .returning(*templates.c)
    )
    return _template(result.one())


async def update_template(tx: Tx, template_id: int, now: datetime, **values: Any) -> None:
    """Change name, alias, layout_alias or active."""
    await tx.execute(
        sa.update(templates).where(templates.c.id == template_id).values(updated_at=now, **values)
    )


async def append_version(
    tx: Tx,
    template_id: int,
    variants: dict[str, TemplateContent],
    now: datetime,
    *,
    note: str = "",
    publish: bool,
) -> TemplateVersion:
    """A new immutable version numbered after the latest; published at once if asked."""
    bumped = await tx.execute(
        sa.update(templates)
        .where(templates.c.id == template_id)
        .values(latest_version=templates.c.latest_version + 1, updated_at=now)
        .returning(templates.c.latest_version)
    )
    number = bumped.scalar_one()
    result = await tx.execute(
        sa.insert(template_versions)
        .values(
            template_id=template_id,
            number=number,
            variants=variants_to_json(variants),
            note=note,
            created_at=now,
        )
        .returning(*template_versions.c)
    )
    if publish:
        await set_published(tx, template_id, number, now)
    return _version(result.one())


async def set_published(tx: Tx, template_id: int, number: int, now: datetime) -> None:
    await tx.execute(
        sa.update(templates)
        .where(templates.c.id == template_id)
        .values(published_version=number, updated_at=now)
    )


async def get_template(tx: Tx, server_id: int, id_or_alias: str | int) -> Template | None:
    """By numeric id or by alias (Postmark's {templateIdOrAlias}), scoped to the server."""
    query = sa.select(templates).where(templates.c.server_id == server_id)
    # ASCII digits that fit the INTEGER column only: str.isdigit() also accepts "²", which
    # int() refuses, and 20 digits overflowed the driver; both answered 500 (tests/fuzz).
    text = str(id_or_alias)
    if isinstance(id_or_alias, int) or (text.isascii() and text.isdigit() and len(text) <= 9):
        query = query.where(templates.c.id == int(id_or_alias))
    else:
        query = query.where(templates.c.alias == id_or_alias)
    row = (await tx.execute(query)).one_or_none()
    return _template(row) if row else None


async def list_templates(
    tx: Tx,
    server_id: int,
    *,
    template_type: TemplateType | None = None,
    layout_alias: str | None = None,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Template]]:
    """`text` finds it in the name or the alias, whatever the case (the studio's search)."""
    where = [templates.c.server_id == server_id]
    if template_type is not None:
        where.append(templates.c.template_type == template_type.value)
    if layout_alias is not None:
        where.append(templates.c.layout_alias == layout_alias)
    if text:
        wanted = text.lower()
        where.append(
            sa.or_(
                sa.func.lower(templates.c.name).contains(wanted, autoescape=True),
                sa.func.lower(sa.func.coalesce(templates.c.alias, "")).contains(
                    wanted, autoescape=True
                ),
            )
        )
    total = await tx.execute(sa.select(sa.func.count()).select_from(templates).where(*where))
    rows = await tx.execute(
        sa.select(templates).where(*where).order_by(templates.c.id).limit(limit).offset(offset)
    )
    return total.scalar_one(), [_template(row) for row in rows]


async def count_templates(tx: Tx, server_id: int) -> int:
    result = await tx.execute(
        sa.select(sa.func.count()).select_from(templates).where(templates.c.server_id == server_id)
    )
    return int(result.scalar_one())


async def get_test_model(tx: Tx, template_id: int) -> dict[str, Any] | None:
    """The studio's test data for a template (Postmark's TestRenderModel), if it has any."""
    found = await tx.execute(sa.select(templates.c.test_model).where(templates.c.id == template_id))
    value = found.scalar_one_or_none()
    return dict(value) if isinstance(value, dict) else None


async def set_test_model(
    tx: Tx, template_id: int, model: dict[str, Any] | None, now: datetime
) -> None:
    """Replace the test data (None clears it). Not a version: it changes no sent byte."""
    # SQL NULL, not JSON null, for "none": so that IS NULL finds it on both databases.
    value: Any = sa.null() if model is None else model
    await tx.execute(
        sa.update(templates)
        .where(templates.c.id == template_id)
        .values(test_model=value, updated_at=now)
    )


async def get_version(tx: Tx, template_id: int, number: int) -> TemplateVersion | None:
    row = (
        await tx.execute(
            sa.select(template_versions).where(
                template_versions.c.template_id == template_id,
                template_versions.c.number == number,
            )
        )
    ).one_or_none()
    return _version(row) if row else None


async def list_versions(tx: Tx, template_id: int) -> list[TemplateVersion]:
    rows = await tx.execute(
        sa.select(template_versions)
        .where(template_versions.c.template_id == template_id)
        .order_by(template_versions.c.number)
    )
    return [_version(row) for row in rows]


async def delete_template(tx: Tx, template_id: int) -> None:
    await tx.execute(
        sa.delete(template_versions).where(template_versions.c.template_id == template_id)
    )
    await tx.execute(sa.delete(templates).where(templates.c.id == template_id))
