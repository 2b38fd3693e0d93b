"""MISIVA_ROUTES parsing and matching."""

from __future__ import annotations

import pytest

from misiva.delivery.routes import parse_routes, route_for
from misiva.domain.enums import RouteKind, TlsMode
from misiva.domain.errors import SetupError


def test_first_match_wins_across_pattern_kinds() -> None:
    routes = parse_routes(
        "example.com=mx, *.corp.test=smtp://u%40x:p%3Ass@relay.local:2525?tls=starttls, *=capture"
    )
    assert route_for("EXAMPLE.com", routes).kind is RouteKind.MX  # type: ignore[union-attr]
    relay = route_for("mail.corp.test", routes)
    assert relay is not None and relay.kind is RouteKind.SMTP
    assert (relay.host, relay.port, relay.tls) == ("relay.local", 2525, TlsMode.STARTTLS)
    assert (relay.username, relay.password) == ("u@x", "p:ss")
    assert route_for("corp.test", routes).kind is RouteKind.CAPTURE  # type: ignore[union-attr]
    assert route_for("other.org", routes).kind is RouteKind.CAPTURE  # type: ignore[union-attr]


def test_default_ports_follow_tls_mode() -> None:
    [plain, implicit] = parse_routes("a.test=smtp://h,b.test=smtp://h?tls=implicit")
    assert plain.port == 25 and plain.tls is TlsMode.NONE
    assert implicit.port == 465


def test_no_route_for_unmatched_domain() -> None:
    assert route_for("b.test", parse_routes("a.test=capture")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("example.com", "PATTERN=TARGET"),
        ("*=ftp://host", "not mx, capture or smtp"),
        ("*=smtp://host?tls=maybe", "tls must be"),
        ("ex ample.com=mx", "not a domain"),
        ("*=smtp://host:99999", "invalid port"),
    ],
)
def test_bad_routes_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(SetupError, match=message):
        parse_routes(text)
