"""Content blocks at render time: which block fills a slot, which variant a recipient gets,
rules that do not compile or fail, marked links, and the filled HTML and text parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from misiva.domain.content_blocks import BlockContent, BlockVariant, ContentBlock
from misiva.domain.errors import InvalidRequest
from misiva.domain.templates import TemplateContent
from misiva.render.blocks import (
    BLOCK_FUNCTION,
    BlockFiller,
    block_of_link,
    bucket,
    choose,
    compile_rule,
    mark_links,
    pick_variant,
    rule_matches,
    slots_of,
)
from misiva.render.compile import compile_template
from misiva.render.render import render

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _block(
    block_id: int,
    *,
    slot: str = "cross_sell",
    rule: str | None = None,
    priority: int = 0,
    starts: datetime | None = None,
    ends: datetime | None = None,
    variants: tuple[BlockVariant, ...] | None = None,
    html: str = "<p>offer</p>",
) -> ContentBlock:
    return ContentBlock(
        id=block_id,
        server_id=1,
        key=f"block-{block_id}",
        slot=slot,
        rule=rule,
        priority=priority,
        starts_at=starts,
        ends_at=ends,
        variants=variants or (BlockVariant("A", 100, {"default": BlockContent(html)}),),
        created_at=NOW,
        updated_at=NOW,
    )


MODEL = {"contact": {"country": "ES", "email": "ana@example.com"}, "order": {"total": 80}}


def _chosen_id(blocks: list[ContentBlock], model: dict[str, object] = MODEL, **kw: object) -> int:
    found = choose(
        blocks,
        "cross_sell",
        model,
        email="ana@example.com",
        locale=str(kw.get("locale", "es")),
        now=NOW,
    )
    return found.block.id if found else 0


def test_highest_priority_matching_block_fills_the_slot() -> None:
    low = _block(1, priority=1)
    high_spain = _block(2, priority=9, rule="contact.country == 'ES' and order.total > 50")
    high_france = _block(3, priority=10, rule="contact.country == 'FR'")
    other_slot = _block(4, priority=99, slot="footer")
    assert _chosen_id([low, high_spain, high_france, other_slot]) == 2
    cheap = {**MODEL, "order": {"total": 20}}
    assert _chosen_id([low, high_spain, high_france], cheap) == 1
    assert _chosen_id([high_france]) == 0


def test_schedule_and_locale_decide_whether_a_block_runs() -> None:
    ended = _block(1, priority=5, ends=NOW)
    future = _block(2, priority=4, starts=NOW + timedelta(hours=1))
    english_only = _block(
        3, priority=3, variants=(BlockVariant("A", 100, {"en": BlockContent("<p>hi</p>")}),)
    )
    running = _block(4, priority=1, starts=NOW - timedelta(days=1), ends=NOW + timedelta(days=1))
    assert _chosen_id([ended, future, english_only, running]) == 4
    assert _chosen_id([ended, future, english_only, running], locale="en-GB") == 3


def test_a_rule_that_fails_on_the_data_does_not_match() -> None:
    assert not rule_matches("order.total > 50", {"contact": {}})  # no order at all
    assert not rule_matches("order.total > 50", {"order": {"total": "many"}})
    assert rule_matches("contact.country is defined", {"contact": {"country": "ES"}})
    assert rule_matches(None, {})


@pytest.mark.parametrize(
    "rule", ["contact.country ==", "order.total > 50 }}", "{% for x in y %}", "a b"]
)
def test_a_rule_that_does_not_compile_is_refused(rule: str) -> None:
    with pytest.raises(InvalidRequest, match="does not compile"):
        compile_rule(rule)


def test_ab_split_is_deterministic_and_close_to_the_percentages() -> None:
    block = _block(
        1,
        variants=(
            BlockVariant("A", 70, {"default": BlockContent("<p>a</p>")}),
            BlockVariant("B", 30, {"default": BlockContent("<p>b</p>")}),
        ),
    )
    recipients = [f"person{n}@example.com" for n in range(10_000)]
    picked = [pick_variant(block, email).name for email in recipients]
    share_b = picked.count("B") / len(picked)
    assert 0.28 < share_b < 0.32
    again = [pick_variant(block, email.upper()).name for email in recipients]
    assert again == picked
    assert bucket("block-1", "x@example.com") == bucket("block-1", " X@Example.com ")


def test_block_links_are_marked_and_read_back() -> None:
    html = '<a href="https://shop.test/p?id=1&amp;c=2">buy</a> <a href="mailto:x@y">m</a>'
    marked = mark_links(html, 12, "B")
    assert 'href="https://shop.test/p?id=1&amp;c=2&amp;misiva_block=12.B"' in marked
    assert 'href="mailto:x@y"' in marked
    assert block_of_link("https://shop.test/p?id=1&c=2&misiva_block=12.B") == (12, "B")
    assert block_of_link("https://shop.test/p?id=1") is None


def test_a_template_slot_renders_the_chosen_block_with_the_same_model() -> None:
    compiled = compile_template(
        TemplateContent(
            subject="Order {{ order.number }}",
            html_body="<p>Thanks</p>{{ block('cross_sell') }}{{ block('footer') }}",
        )
    )
    assert slots_of(compiled) == {"cross_sell", "footer"}
    assert "block" not in compiled.required
    block = _block(
        7, html='<p>{{ contact.first_name }}: <a href="https://shop.test/mug">mug</a></p>'
    )
    found = choose([block], "cross_sell", {}, email="ana@example.com", locale="es", now=NOW)
    assert found is not None
    filler = BlockFiller({"cross_sell": found})
    model = {"order": {"number": "7"}, "contact": {"first_name": "Ana"}, BLOCK_FUNCTION: filler}
    rendered = render(compiled, model, locale="es")
    assert rendered.html_body is not None and rendered.text_body is not None
    assert (
        '<p>Ana: <a href="https://shop.test/mug?misiva_block=7.A">mug</a></p>' in rendered.html_body
    )
    assert "Ana: mug" in rendered.text_body and "<p>" not in rendered.text_body
    assert [(c.slot, c.block_id, c.variant) for c in filler.choices] == [("cross_sell", 7, "A")]
    # Without blocks passed in, a slot renders nothing (a preview, a test send).
    empty = render(compiled, {"order": {"number": "7"}}, locale="es")
    assert empty.html_body is not None and "mug" not in empty.html_body
