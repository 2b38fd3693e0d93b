"""The Offers section's front page: where the pools and blocks are, and what offers bring,
per template and per content block variant, with the A/B verdict in words."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from misiva.authoring.content_blocks import ContentBlocks
from misiva.domain.users import Capability
from misiva.feedback.offer_results import block_results, day_start, template_results
from misiva.scheduler.rollups import catch_up
from misiva.web.access import visit
from misiva.web.deps import web_deps
from misiva.web.formats import Formats
from misiva.web.i18n import N_
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
# Whole UTC days, as the rollups keep them.
PERIODS: Final = {7: N_("Last 7 days"), 30: N_("Last 30 days"), 90: N_("Last 90 days")}
DEFAULT_DAYS: Final = 30
# The blocks the page shows results of; a server with more sees the most recently changed.
# Each block's results are read from its messages (bench/offer_results.py: about 1 s per
# 200,000 messages carrying it on SQLite, 0.35 s on PostgreSQL), so the page stays bounded.
MAX_BLOCKS: Final = 10


@router.get("/ui/servers/{server_id}/offers")
async def offers(request: Request, server_id: int, days: int = Query(DEFAULT_DAYS)) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    days = days if days in PERIODS else DEFAULT_DAYS
    deps = web_deps(request)
    now = deps.clock()
    templates, blocks, more = [], [], 0
    if got.user.can(Capability.SEE_STATS):
        await catch_up(deps.db, now)
        since = day_start(now, days)
        templates = await template_results(deps.db, server_id, since)
        listed = await ContentBlocks(deps.db, clock=deps.clock).list(server_id)
        recent = sorted(listed, key=lambda b: b.updated_at, reverse=True)[:MAX_BLOCKS]
        blocks = [(b, await block_results(deps.db, b)) for b in recent]
        more = len(listed) - len(recent)
    return page(
        "offers/overview.html",
        got.user.locale,
        200,
        **got.context("offers"),
        days=days,
        periods=PERIODS,
        templates=templates,
        blocks=blocks,
        more_blocks=more,
        fmt=Formats(got.user.locale),
    )
