"""The dashboard: a server's sending over the last day, week or month, from the rollups."""

from __future__ import annotations

import math
from dataclasses import dataclass

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from misiva.domain.users import Capability
from misiva.web import charts
from misiva.web.access import visit
from misiva.web.dashboard import (
    DEFAULT_RANGE,
    LEVEL_LABEL,
    METRIC_LABEL,
    METRICS,
    RANGES,
    catch_up,
    load,
)
from misiva.web.deps import web_deps
from misiva.web.i18n import N_
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
_UNITS = ((86400, N_("d")), (3600, N_("h")), (60, N_("min")), (1, N_("s")))


@dataclass(frozen=True, slots=True)
class Formats:
    """Numbers as a reader of `lang` writes them (1,234.5 or 1.234,5)."""

    lang: str

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.lang)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        # Complaint rates live in hundredths of a percent: show two decimals below 1%.
        pattern = "#,##0.00%" if value < 0.01 else "#,##0.0%"
        return format_percent(value, pattern, locale=self.lang)

    def duration(self, seconds: float | None) -> tuple[str, str] | None:
        """(number, unit key) of a latency bound; the template translates the unit."""
        if seconds is None:
            return None
        if math.isinf(seconds):
            return ("∞", "")
        for size, unit in _UNITS:
            if seconds >= size:
                return (format_decimal(round(seconds / size, 1), locale=self.lang), unit)
        return (format_decimal(seconds, locale=self.lang), "s")


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
