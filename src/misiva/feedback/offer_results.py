"""What offers bring: per template (sends, opens and clicks from the dashboard's rollups, with
the conversions credited to its messages) and per content block variant (the messages it went
into, opened, clicked on its own links, converted), and the A/B verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from misiva.domain.content_blocks import ContentBlock
from misiva.domain.conversions import from_micros
from misiva.domain.offer_results import Comparison, Funnel, compare
from misiva.domain.stats import Dimension, Metric, Step
from misiva.render.blocks import block_of_link
from misiva.storage import Database, rollups
from misiva.storage import content_blocks as block_store
from misiva.storage import conversions as conversion_store

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TemplateResult:
    template_id: int | None  # None: messages sent without a template
    name: str | None
    funnel: Funnel


@dataclass(frozen=True, slots=True)
class BlockResults:
    block_id: int
    variants: list[tuple[str, Funnel]]  # the block's variants in order, then any removed
    comparison: Comparison | None  # None until two variants have been sent


def day_start(now: datetime, days: int) -> datetime:
    """The start of the UTC day `days - 1` days before today: whole days, as rollups keep."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - DAY * (days - 1)


def _revenue(micros: Mapping[str, int]) -> dict[str, Decimal]:
    return {currency: from_micros(n) for currency, n in sorted(micros.items())}


async def template_results(db: Database, server_id: int, since: datetime) -> list[TemplateResult]:
    """Each template that sent or converted since `since` (a UTC day's start), most sent
    first."""
    async with db.reading() as tx:
        counts = await rollups.breakdown(tx, server_id, Dimension.TEMPLATE, Step.DAY, since)
        converted = await conversion_store.by_template(tx, server_id, since)
        ids = {int(v) for v in counts if v.isdigit()} | {i for i in converted if i is not None}
        names = await rollups.template_names(tx, server_id, ids)
    keys: set[int | None] = {int(v) if v.isdigit() else None for v in counts} | set(converted)
    found = []
    for key in keys:
        metrics = counts.get("" if key is None else str(key), {})
        conversions, micros = converted.get(key, (0, {}))
        funnel = Funnel(
            sends=metrics.get(Metric.SENT, 0),
            opens=metrics.get(Metric.OPENED, 0),
            clicks=metrics.get(Metric.CLICKED, 0),
            conversions=conversions,
            revenue=_revenue(micros),
        )
        name = names.get(key, f"#{key}") if key is not None else None
        found.append(TemplateResult(key, name, funnel))
    found.sort(key=lambda r: (-r.funnel.sends, -r.funnel.conversions, r.name or ""))
    return found


async def block_results(db: Database, block: ContentBlock) -> BlockResults:
    async with db.reading() as tx:
        funnel = await conversion_store.block_funnel(tx, block.server_id, block.id)
        clicks = await block_store.block_clicks(tx, block.server_id, block.id)
    clicked: dict[str, set[str]] = {}
    for message_id, variant, link in clicks:
        # Only a click on the block's own links is the block's (not the template's links).
        if block_of_link(link) == (block.id, variant):
            clicked.setdefault(variant, set()).add(message_id)
    names = [v.name for v in block.variants]
    names += sorted(set(funnel) - set(names))
    variants = []
    for name in names:
        sends, opens, conversions, micros = funnel.get(name, (0, 0, 0, {}))
        variants.append(
            (
                name,
                Funnel(
                    sends=sends,
                    opens=opens,
                    clicks=len(clicked.get(name, ())),
                    conversions=conversions,
                    revenue=_revenue(micros),
                ),
            )
        )
    return BlockResults(block.id, variants, compare(variants))
