"""The dashboard: a server's sending over the last day, week or month, from the rollups."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from misiva.domain.users import Capability
from misiva.scheduler.rollups import catch_up
from misiva.web import charts
from misiva.web.access import visit
from misiva.web.dashboard import (
    DEFAULT_RANGE,
    LEVEL_LABEL,
    METRIC_LABEL,
    METRICS,
    RANGES,
    load,
)
from misiva.web.deps import web_deps
from misiva.web.formats import Formats
from misiva.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/ui/servers/{server_id}/dashboard")
async def dashboard(
    request: Request, server_id: int, period: str = Query(DEFAULT_RANGE, alias="range")
) -> Response:
    got = await visit(request, server_id, Capability.SEE_STATS)
    if isinstance(got, Response):
        return got
    chosen = RANGES.get(period, RANGES[DEFAULT_RANGE])
    deps = web_deps(request)
    now = deps.clock()
    await catch_up(deps.db, now)
    view = await load(deps.db, server_id, chosen, now)
    return page(
        "dashboard/dashboard.html",
        got.user.locale,
        200,
        **got.context("dashboard"),
        view=view,
        ranges=RANGES.values(),
        metrics=METRICS,
        metric_label=METRIC_LABEL,
        level_label=LEVEL_LABEL,
        fmt=Formats(got.user.locale),
        charts=charts,
    )
