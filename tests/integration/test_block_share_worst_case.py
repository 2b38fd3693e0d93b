"""Publishing checks a template's slots at their worst: each filled with the longest content a
block of that slot could put there, whatever its rule, so an offer that can outgrow the
stream's share is flagged before any recipient gets it (a check has no recipient, and its
slots would otherwise render empty)."""

from __future__ import annotations

from builders import Tenant
from misiva.authoring import templates as authoring
from misiva.authoring.content_blocks import ContentBlocks
from misiva.authoring.templates import TemplateFields
from misiva.domain.content import StreamUse
from misiva.domain.content_blocks import BlockContent, BlockVariant, NewContentBlock
from misiva.runtime.wiring import Platform

RECEIPT = "<p>Your order A-1 is confirmed. It ships on Monday to Calle Mayor 1, Madrid.</p>"
SHORT = "<p>Mugs, two for one.</p>"
LONG = "<p>" + "Buy our new coffee mugs, two for one this week only! " * 4 + "</p>"


def _block(key: str, variants: dict[str, str], rule: str | None = None) -> NewContentBlock:
    return NewContentBlock(
        key=key,
        slot="cross_sell",
        rule=rule,
        variants=tuple(
            BlockVariant(name, 100 // len(variants), {"default": BlockContent(html)})
            for name, html in variants.items()
        ),
    )


async def _findings(
    platform: Platform, tenant: Tenant, use: StreamUse, share: int | None
) -> list[str]:
    _, report = await platform.content_checker().check_version(
        platform.db, tenant.server, "order", use=use, strict=False, max_block_share=share
    )
    return [f.message for v in report.variants for f in v.findings if f.code.value == "BlockShare"]


async def test_the_longest_block_a_slot_can_get_is_measured(
    platform: Platform, tenant: Tenant
) -> None:
    fields = TemplateFields(
        name="Order",
        alias="order",
        subject="Order",
        html_body=RECEIPT + "{{ block('cross_sell') }}",
    )
    await authoring.create_template(platform.db, tenant.server.id, fields)
    blocks = ContentBlocks(platform.db)
    await blocks.create(tenant.server.id, _block("short", {"A": SHORT}))
    assert await _findings(platform, tenant, StreamUse.TRANSACTIONAL, None) == []
    # A rule no test recipient matches still counts: some recipient may match it.
    await blocks.create(
        tenant.server.id, _block("mugs", {"A": SHORT, "B": LONG}, rule="contact.country == 'ES'")
    )
    [message] = await _findings(platform, tenant, StreamUse.TRANSACTIONAL, None)
    assert "'mugs' in slot 'cross_sell'" in message and "the stream allows 30%" in message
    assert await _findings(platform, tenant, StreamUse.TRANSACTIONAL, 90) == []
    assert await _findings(platform, tenant, StreamUse.COMMERCIAL, None) == []
