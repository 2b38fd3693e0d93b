"""`misiva blocks list` and `test` as an operator runs them, against a real installation."""

from __future__ import annotations

from collections.abc import Callable

from harness import Misiva
from misiva.authoring.content_blocks import ContentBlocks
from misiva.config import Settings
from misiva.domain.content_blocks import BlockContent, BlockVariant, NewContentBlock
from misiva.runtime.wiring import build_platform


async def test_blocks_list_and_rule_tester(misiva_factory: Callable[..., Misiva]) -> None:
    misiva = misiva_factory()
    misiva.setup_tenant()
    platform = build_platform(Settings(database_url=misiva.env["MISIVA_DATABASE_URL"]))
    try:
        server = await platform.directory.by_name("shop")
        block = await ContentBlocks(platform.db).create(
            server.server.id,
            NewContentBlock(
                key="mug",
                slot="cross_sell",
                rule="order.total > 50",
                priority=3,
                variants=(
                    BlockVariant("A", 30, {"default": BlockContent("<p>a</p>")}),
                    BlockVariant("B", 70, {"default": BlockContent("<p>b</p>")}),
                ),
            ),
        )
    finally:
        await platform.close()
    [listed] = misiva.cli_json("blocks", "list", "--server", "shop")
    assert listed["Key"] == "mug" and [v["Split"] for v in listed["Variants"]] == [30, 70]
    text = misiva.cli("blocks", "list", "--server", "shop").stdout
    assert "cross_sell" in text and "A:30% B:70%" in text and "order.total > 50" in text
    common = ("--server", "shop", "--email", "ana@example.com")
    matched = misiva.cli(
        "blocks", "test", str(block.id), *common, "--model", '{"order": {"total": 80}}'
    )
    assert "rule matches: yes" in matched.stdout
    assert f"the slot would get block: {block.id}" in matched.stdout
    missed = misiva.cli("blocks", "test", str(block.id), *common, "--model", '{"order": {}}')
    assert "rule matches: no" in missed.stdout and "would get block: none" in missed.stdout
    bad = misiva.cli("blocks", "test", str(block.id), *common, "--model", "{", check=False)
    assert bad.returncode != 0 and "--model is not JSON" in bad.stderr
