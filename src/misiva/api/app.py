"""Build the FastAPI application: routes, Postmark's error map, path normalisation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import (
    MisivaError,
    NotFound,
    RateLimited,
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
    if isinstance(exc, RateLimited):
        return error_response(429, exc.error_code, exc.message)
    if isinstance(exc, TooLarge):
        return error_response(413, exc.error_code, exc.message)
    if isinstance(exc, ServiceUnavailable):
        return error_response(503, exc.error_code, exc.message)
    if isinstance(exc, NotFound):
        # Postmark answers a missing message with 422 and ErrorCode 701, not 404.
        return error_response(422, exc.error_code, exc.message)
    return error_response(422, exc.error_code, exc.message)


async def _invalid_parameter(_request: Request, exc: Exception) -> Any:
    # FastAPI's own answer is `{"detail": [...]}`, which Postmark clients cannot read: they
    # branch on ErrorCode and show Message. A bad path or query parameter (found by
    # schemathesis, tests/fuzz) gets Postmark's 422 shape instead.
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ())]
    kind = location[0] if location else "request"
    name = ".".join(location[1:]) or "value"
    reason = str(first.get("msg", "invalid value")).rstrip(".")
    return error_response(
        422, ErrorCode.INVALID_REQUEST, f"The {kind} parameter '{name}' is invalid: {reason}."
    )


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
    app.add_exception_handler(RequestValidationError, _invalid_parameter)
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
            _document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_REF = {"$ref": "#/components/schemas/PostmarkError"}
_ERRORS = {
    "401": "Missing or wrong X-Postmark-Server-Token (ErrorCode 10).",
    "422": "Postmark's error: see ErrorCode and Message.",
    "429": "Too many requests from this client.",
}


def _document_errors(schema: dict[str, Any]) -> None:
    """Every operation may answer 401, 422 and 429 with Postmark's `{ErrorCode, Message}`, and a
    body over its limit with 413. FastAPI declared its own `{"detail"}` 422 instead, and
    declared nothing for the rest, so schemathesis (tests/fuzz) saw answers the document did
    not allow."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["PostmarkError"] = {
        "type": "object",
        "properties": {"ErrorCode": {"type": "integer"}, "Message": {"type": "string"}},
        "required": ["ErrorCode", "Message"],
    }
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            errors = dict(_ERRORS)
            if method in ("post", "put", "patch"):
                errors["413"] = "The request body is larger than this endpoint allows."
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
