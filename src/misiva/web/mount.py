"""Put the UI on the HTTP app: its pages under /ui, and / leading there."""

from __future__ import annotations

from fastapi import FastAPI

from misiva.web import routes, routes_activity
from misiva.web.deps import WebDeps


def mount_ui(app: FastAPI, deps: WebDeps) -> FastAPI:
    app.state.web = deps
    app.include_router(routes.router)
    app.include_router(routes_activity.router)
    return app
