"""The studio's storage: a template's test data kept and cleared, and finding templates by text."""

from __future__ import annotations

from builders import T0, make_tenant
from misiva.domain.templates import TemplateContent, TemplateType
from misiva.storage import Database
from misiva.storage import templates as template_store


async def _template(db: Database, server_id: int, name: str, alias: str | None) -> int:
    async with db.transaction() as tx:
        made = await template_store.insert_template(
            tx,
            server_id=server_id,
            alias=alias,
            name=name,
            template_type=TemplateType.STANDARD,
            layout_alias=None,
            now=T0,
        )
        await template_store.append_version(
            tx, made.id, {"default": TemplateContent(subject="Hi")}, T0, publish=True
        )
    return made.id


async def test_test_data_is_kept_replaced_and_cleared(db: Database) -> None:
    tenant = await make_tenant(db)
    template_id = await _template(db, tenant.server.id, "Welcome", "welcome")
    async with db.transaction() as tx:
        assert await template_store.get_test_model(tx, template_id) is None
        model = {"order": {"number": "A-1", "lines": [{"name": "Café"}]}, "total": 12.5}
        await template_store.set_test_model(tx, template_id, model, T0)
    async with db.reading() as tx:
        assert await template_store.get_test_model(tx, template_id) == model
        published = await template_store.get_template(tx, tenant.server.id, template_id)
    # Test data is no version: what is published stays as it was.
    assert published is not None and published.latest_version == 1
    async with db.transaction() as tx:
        await template_store.set_test_model(tx, template_id, None, T0)
        assert await template_store.get_test_model(tx, template_id) is None


async def test_templates_are_found_by_name_or_alias_whatever_the_case(db: Database) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db, "other", "other.test")
    await _template(db, tenant.server.id, "Order confirmation", "order")
    await _template(db, tenant.server.id, "Welcome", "welcome-100%")
    await _template(db, tenant.server.id, "Password reset", None)
    await _template(db, other.server.id, "Order shipped", "shipped")
    async with db.reading() as tx:
        by_name = await template_store.list_templates(tx, tenant.server.id, text="ORDER")
        by_alias = await template_store.list_templates(tx, tenant.server.id, text="100%")
        # A % is a character to find, not a wildcard.
        wildcard = await template_store.list_templates(tx, tenant.server.id, text="%")
        everything = await template_store.list_templates(tx, tenant.server.id)
    assert [t.name for t in by_name[1]] == ["Order confirmation"] and by_name[0] == 1
    assert [t.name for t in by_alias[1]] == ["Welcome"]
    assert [t.name for t in wildcard[1]] == ["Welcome"]
    assert everything[0] == 3
