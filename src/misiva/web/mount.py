"""Put the UI on the HTTP app: its pages under /ui, its assets under /ui/static, and /
leading there."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from misiva.web import (
    routes,
    routes_activity,
    routes_audit,
    routes_automation,
    routes_automation_events,
    routes_capture,
    routes_dashboard,
    routes_monitoring,
    routes_offers,
    routes_offers_blocks,
    routes_offers_pools,
    routes_operations,
    routes_servers,
    routes_studio,
)
from misiva.web.deps import WebDeps
from misiva.web.security_headers import SecurityHeaders

STATIC = Path(__file__).parent / "static"


def mount_ui(app: FastAPI, deps: WebDeps) -> FastAPI:
    app.state.web = deps
    for module in (
        routes,
        routes_activity,
        routes_audit,
        routes_capture,
        routes_dashboard,
        routes_studio,
        routes_operations,
        routes_servers,
        routes_monitoring,
        routes_offers,
        routes_offers_pools,
        routes_offers_blocks,
        routes_automation,
        routes_automation_events,
    ):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    # Every UI response, not only rendered pages: redirects, static files and errors too.
    app.add_middleware(SecurityHeaders)
    return app
