"""MISIVA_ROUTES: parse `PATTERN=TARGET` entries and pick the route of a recipient domain."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from misiva.domain.delivery import Route
from misiva.domain.enums import RouteKind, TlsMode
from misiva.domain.errors import SetupError

_PATTERN = re.compile(
    r"^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$"
)


def parse_routes(text: str) -> list[Route]:
    """`example.com=mx,*.test=capture,*=smtp://relay:587?tls=starttls` in order."""
    routes = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        pattern, sep, target = entry.partition("=")
        pattern, target = pattern.strip().lower(), target.strip()
        if not sep or not target:
            raise SetupError(f"route {entry!r} is not PATTERN=TARGET")
        if not _PATTERN.match(pattern):
            raise SetupError(f"route pattern {pattern!r} is not a domain, *.domain or *")
        routes.append(_target(pattern, target))
    if not routes:
        raise SetupError("MISIVA_ROUTES is empty: give at least one route, e.g. *=capture")
    return routes


def _target(pattern: str, target: str) -> Route:
    if target == RouteKind.MX.value:
        return Route(pattern=pattern, kind=RouteKind.MX)
    if target == RouteKind.CAPTURE.value:
        return Route(pattern=pattern, kind=RouteKind.CAPTURE)
    url = urlsplit(target)
    if url.scheme != "smtp" or not url.hostname:
        raise SetupError(
            f"route target {target!r} is not mx, capture or smtp://[user:pass@]host:port"
        )
    tls_values = parse_qs(url.query).get("tls", ["none"])
    try:
        tls = TlsMode(tls_values[-1].lower())
    except ValueError:
        raise SetupError(f"route {target!r}: tls must be none, starttls or implicit") from None
    if tls is TlsMode.OPPORTUNISTIC:
        raise SetupError(f"route {target!r}: tls must be none, starttls or implicit")
    try:
        port = url.port or (465 if tls is TlsMode.IMPLICIT else 25)
    except ValueError:
        raise SetupError(f"route {target!r} has an invalid port") from None
    return Route(
        pattern=pattern,
        kind=RouteKind.SMTP,
        host=url.hostname,
        port=port,
        tls=tls,
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
    )


def route_for(domain: str, routes: list[Route]) -> Route | None:
    """The first route whose pattern matches the recipient domain."""
    return next((route for route in routes if route.matches(domain)), None)
