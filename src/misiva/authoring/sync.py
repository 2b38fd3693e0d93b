"""Pull templates to folders and push folders back: idempotent, printing what changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from misiva.authoring.checks import check_content
from misiva.authoring.files import TemplateFile, read_folder, write_folder
from misiva.authoring.templates import layout_content
from misiva.domain.clock import Clock, utcnow
from misiva.domain.templates import Template, TemplateContent
from misiva.storage import Database, Tx
from misiva.storage import templates as template_store


@dataclass(frozen=True, slots=True)
class Change:
    action: str  # "create", "update" or "unchanged"
    alias: str
    version: int | None = None


async def pull(db: Database, server_id: int, root: Path) -> list[str]:
    """Write every template's published version under root; returns the aliases written."""
    written = []
    async with db.transaction() as tx:
        _, templates = await template_store.list_templates(tx, server_id, limit=10_000)
        for template in templates:
            number = template.current_version
            version = await template_store.get_version(tx, template.id, number)
            if version is None:
                continue
            alias = template.alias or f"template-{template.id}"
            write_folder(
                root,
                TemplateFile(
                    alias=alias,
                    name=template.name,
                    template_type=template.template_type,
                    layout=template.layout_alias,
                    variants=version.variants,
                    test_model=await template_store.get_test_model(tx, template.id),
                ),
            )
            written.append(alias)
    return written


async def push(
    db: Database, server_id: int, root: Path, *, dry_run: bool = False, clock: Clock = utcnow
) -> list[Change]:
    """Create missing templates and add one published version to each one that differs."""
    files = read_folder(root)
    changes: list[Change] = []
    try:
        async with db.transaction() as tx:
            for file in files:
                changes.append(await _push_one(tx, server_id, file, clock))
            if dry_run:
                # Leaving the block by an exception rolls everything back.
                raise _DryRun
    except _DryRun:
        pass
    return changes


class _DryRun(Exception):
    """Raised to roll back a push that only reports what it would change."""


async def _push_one(tx: Tx, server_id: int, file: TemplateFile, clock: Clock) -> Change:
    existing = await template_store.get_template(tx, server_id, file.alias)
    if existing is not None and await _same(tx, existing, file):
        # The test data is no version of the template: new data alone changes what the
        # studio previews with, never what is sent.
        if await _new_test_model(tx, existing.id, file):
            await template_store.set_test_model(tx, existing.id, file.test_model, clock())
            return Change("update", file.alias, existing.published_version)
        return Change("unchanged", file.alias, existing.published_version)
    layout = await layout_content(tx, server_id, file.layout)
    for locale, content in file.variants.items():
        check_content(file.template_type, content, layout, locale)
    now = clock()
    if existing is None:
        existing = await template_store.insert_template(
            tx,
            server_id=server_id,
            alias=file.alias,
            name=file.name,
            template_type=file.template_type,
            layout_alias=file.layout,
            now=now,
        )
        action = "create"
    else:
        await template_store.update_template(
            tx, existing.id, now, name=file.name, layout_alias=file.layout
        )
        action = "update"
    version = await template_store.append_version(
        tx, existing.id, file.variants, now, note="misiva templates push", publish=True
    )
    if await _new_test_model(tx, existing.id, file):
        await template_store.set_test_model(tx, existing.id, file.test_model, now)
    return Change(action, file.alias, version.number)


async def _new_test_model(tx: Tx, template_id: int, file: TemplateFile) -> bool:
    """A folder without test-model.json leaves the stored test data alone."""
    if file.test_model is None:
        return False
    return await template_store.get_test_model(tx, template_id) != file.test_model


async def _same(tx: Tx, template: Template, file: TemplateFile) -> bool:
    if (template.name, template.layout_alias, template.template_type) != (
        file.name,
        file.layout,
        file.template_type,
    ):
        return False
    number = template.current_version
    version = await template_store.get_version(tx, template.id, number)
    return version is not None and _normalised(version.variants) == _normalised(file.variants)


def _normalised(variants: dict[str, TemplateContent]) -> dict[str, tuple[str, ...]]:
    """Compare as files hold them: empty and missing are the same."""
    return {
        locale: (c.subject.strip(), c.html_body or "", c.text_body or "", c.mjml_body or "")
        for locale, c in variants.items()
    }
