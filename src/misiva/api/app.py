"""Build the FastAPI application: routes, Postmark's error map, path normalisation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from misiva.api import (
    routes_activity,
    routes_alerts,
    routes_bounces,
    routes_capture,
    routes_contacts,
    routes_content_blocks,
    routes_conversions,
    routes_dmarc,
    routes_email,
    routes_events,
    routes_links,
    routes_messages,
    routes_promo,
    routes_scheduled,
    routes_streams,
    routes_subscriptions,
    routes_templates,
    routes_tracking,
    routes_triggers,
    routes_webhooks,
)
from misiva.api.deps import ApiDeps
from misiva.api.responses import error_response
from misiva.api.schemas import EmailIn, TemplatedEmailIn
from misiva.domain.errors import (
    MisivaError,
    NotFound,
    ServiceUnavailable,
    TooLarge,
    Unauthorized,
)


class _CanonicalPath:
    """Real Postmark clients write `/deliveryStats` and `/deliverystats`, `/email/withTemplate/`
    and `/email/withTemplate`: match the fixed words of a path ignoring case, and ignore one
    trailing slash. Parameters (ids, aliases, keys) keep their case: a word is rewritten only
    where a route has that fixed word at that place, so a trigger keyed `Stats` stays `Stats`
    in `/triggers/Stats`, while `/triggers/x/STATS` becomes `/triggers/x/stats`."""

    def __init__(self, app: ASGIApp, paths: list[str]) -> None:
        self.app = app
        # Per number of segments: each route's segments, None where a parameter stands.
        self.routes: dict[int, list[tuple[str | None, ...]]] = {}
        for path in sorted(set(paths)):
            parts = tuple(None if p.startswith("{") else p for p in path.split("/"))
            self.routes.setdefault(len(parts), []).append(parts)
        for shapes in self.routes.values():
            # More fixed words first: `/triggers/dry-run` before `/triggers/{key}`.
            shapes.sort(key=lambda shape: -sum(part is not None for part in shape))

    def canonical(self, path: str) -> str:
        parts = path.split("/")
        for shape in self.routes.get(len(parts), ()):
            if all(w is None or w.lower() == p.lower() for w, p in zip(shape, parts, strict=True)):
                return "/".join(p if w is None else w for w, p in zip(shape, parts, strict=True))
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]
            path = self.canonical(path)
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


async def _misiva_error(_request: Request, exc: Exception) -> Any:
    assert isinstance(exc, MisivaError)
    if isinstance(exc, Unauthorized):
        return error_response(401, exc.error_code, exc.message)
    if isinstance(exc, TooLarge):
        return error_response(413, exc.error_code, exc.message)
    if isinstance(exc, ServiceUnavailable):
        return error_response(503, exc.error_code, exc.message)
    if isinstance(exc, NotFound):
        # Postmark answers a missing message with 422 and ErrorCode 701, not 404.
        return error_response(422, exc.error_code, exc.message)
    return error_response(422, exc.error_code, exc.message)


def create_app(deps: ApiDeps) -> FastAPI:
    app = FastAPI(
        title="Misiva",
        summary="Self-hosted transactional email with a Postmark-compatible API.",
        version="0.1.0",
    )
    app.state.deps = deps
    app.router.redirect_slashes = False
    paths = []
    routers = (
        routes_activity,
        routes_email,
        routes_messages,
        routes_capture,
        routes_contacts,
        routes_subscriptions,
        routes_links,
        routes_templates,
        routes_bounces,
        routes_streams,
        routes_webhooks,
        routes_tracking,
        routes_alerts,
        routes_dmarc,
        routes_content_blocks,
        routes_promo,
        routes_conversions,
        routes_scheduled,
        routes_events,
        routes_triggers,
    )
    for module in routers:
        app.include_router(module.router)
        paths += [route.path for route in module.router.routes if isinstance(route, APIRoute)]
    app.add_exception_handler(MisivaError, _misiva_error)
    app.add_middleware(_CanonicalPath, paths=paths)
    _document_bodies(app)
    return app


def _document_bodies(app: FastAPI) -> None:
    """Routes read their JSON themselves (to answer in Postmark's error shapes), so the
    request schemas are added to the OpenAPI document here for /docs to show them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EmailIn, TemplatedEmailIn):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
