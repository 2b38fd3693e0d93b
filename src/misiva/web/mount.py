"""Put the UI on the HTTP app: its pages under /ui, and / leading there."""

from __future__ import annotations

from fastapi import FastAPI

from misiva.web.deps import WebDeps
from misiva.web.routes import router


def mount_ui(app: FastAPI, deps: WebDeps) -> FastAPI:
    app.state.web = deps
    app.include_router(router)
    return app
