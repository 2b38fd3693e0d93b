"""Content blocks on SQLite and PostgreSQL: saved checked, listed, changed, deleted, loaded
for a template's slots, and the block each accepted message got recorded with it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from builders import T0, make_tenant, new_message
from misiva.authoring.content_blocks import ContentBlocks
from misiva.domain.content_blocks import BlockChoice, BlockContent, BlockVariant, NewContentBlock
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.storage import Database
from misiva.storage import content_blocks as block_store
from misiva.storage import messages as message_store


def _new(key: str, **kw: object) -> NewContentBlock:
    fields: dict[str, object] = {
        "key": key,
        "slot": "cross_sell",
        "variants": (BlockVariant("A", 100, {"es": BlockContent("<p>{{ contact.email }}</p>")}),),
    }
    fields.update(kw)
    return NewContentBlock(**fields)  # type: ignore[arg-type]


async def test_blocks_are_saved_listed_changed_and_deleted(db: Database) -> None:
    tenant = await make_tenant(db)
    blocks = ContentBlocks(db, clock=lambda: T0)
    server = tenant.server.id
    mug = await blocks.create(server, _new("mug", priority=5, rule="contact.country == 'ES'"))
    ab = await blocks.create(
        server,
        _new(
            "ab",
            variants=(
                BlockVariant("A", 50, {"default": BlockContent("<p>a</p>")}),
                BlockVariant(
                    "B",
                    50,
                    {
                        "default": BlockContent(
                            "",
                            mjml="<mjml><mj-body>"
                            "<mj-section><mj-column><mj-text>b</mj-text></mj-column></mj-section>"
                            "</mj-body></mjml>",
                        )
                    },
                ),
            ),
        ),
    )
    assert [b.key for b in await blocks.list(server)] == ["mug", "ab"]  # priority first
    stored = await blocks.get(server, ab.id)
    assert stored.variants[1].contents["default"].mjml is not None
    assert ">b<" in stored.variants[1].contents["default"].html.replace("\n", "")
    with pytest.raises(Conflict):
        await blocks.create(server, _new("mug"))
    changed = await blocks.update(server, mug.id, _new("mug", priority=1, slot="footer"))
    assert changed.slot == "footer" and changed.priority == 1 and changed.rule is None
    await blocks.delete(server, mug.id)
    with pytest.raises(NotFound):
        await blocks.get(server, mug.id)
    other = await make_tenant(db, "other", "other.test")
    assert await blocks.list(other.server.id) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rule": "contact.country =="}, "does not compile"),
        ({"key": "no spaces"}, "key"),
        ({"variants": (BlockVariant("A", 60, {"es": BlockContent("x")}),)}, "add up to 100"),
        ({"variants": (BlockVariant("A", 100, {"es": BlockContent("{% if %}")}),)}, "line 1"),
        ({"starts_at": T0, "ends_at": T0}, "end after it starts"),
    ],
)
async def test_bad_blocks_are_refused_at_save(
    db: Database, change: dict[str, object], message: str
) -> None:
    tenant = await make_tenant(db)
    with pytest.raises(InvalidRequest, match=message):
        await ContentBlocks(db, clock=lambda: T0).create(
            tenant.server.id,
            dataclasses.replace(_new("bad"), **change),  # type: ignore[arg-type]
        )


async def test_loading_a_templates_slots_skips_ended_blocks_and_other_slots(db: Database) -> None:
    tenant = await make_tenant(db)
    server = tenant.server.id
    blocks = ContentBlocks(db, clock=lambda: T0)
    await blocks.create(server, _new("ended", ends_at=T0 + timedelta(hours=1)))
    await blocks.create(server, _new("later", starts_at=T0 + timedelta(days=1), priority=3))
    await blocks.create(server, _new("footer", slot="footer"))
    async with db.reading() as tx:
        found = await block_store.unfinished_blocks(
            tx, server, {"cross_sell"}, T0 + timedelta(hours=2)
        )
        assert [b.key for b in found] == ["later"]
        assert await block_store.unfinished_blocks(tx, server, set(), T0) == []


async def test_the_blocks_a_message_got_are_recorded_with_it(db: Database) -> None:
    tenant = await make_tenant(db)
    choices = (BlockChoice("cross_sell", 7, "B"), BlockChoice("footer", 9, "A"))
    message = dataclasses.replace(new_message(tenant), content_blocks=choices)
    plain = new_message(tenant, ("bob@example.com",))
    async with db.transaction() as tx:
        await message_store.insert_messages(tx, [message, plain])
    async with db.reading() as tx:
        assert await block_store.choices_for_message(tx, tenant.server.id, message.id) == [*choices]
        assert await block_store.choices_for_message(tx, tenant.server.id, plain.id) == []
        assert await block_store.sends_by_variant(tx, tenant.server.id, 7) == {"B": 1}
