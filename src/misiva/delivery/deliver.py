"""Deliver one claimed message: sign it, route each recipient, send, gather the outcomes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from misiva.bounces import verp_address
from misiva.delivery.routes import route_for
from misiva.delivery.transports import RouteResult, Transport
from misiva.domain.delivery import ClaimedMessage, RecipientOutcome, Route
from misiva.domain.enums import RouteKind
from misiva.domain.records import SendingDomain
from misiva.domain.smtp import SMTPReply
from misiva.mail.dkim import sign

# No route matched: a configuration problem, so defer (4.3.5, RFC 3463) until it is fixed.
NO_ROUTE = SMTPReply(451, "4.3.5 no route matches this recipient domain; check MISIVA_ROUTES")


@dataclass(frozen=True, slots=True)
class DeliveryDeps:
    routes: list[Route]
    transports: dict[RouteKind, Transport]
    # When set, each message's Return-Path is its own VERP address there (b+ID@domain), so
    # what comes back is tied to its message without parsing it.
    bounce_domain: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt's result: per-recipient outcomes, and the signed copy if it was captured."""

    message: ClaimedMessage
    outcomes: list[RecipientOutcome]
    captured: bytes | None


async def deliver_one(
    message: ClaimedMessage, domain: SendingDomain, deps: DeliveryDeps
) -> Delivery:
    """Deliver one claimed message; each line is one named step."""
    signed = _SignOnce(message.mime, domain)
    envelope_from = return_path(message, deps.bounce_domain)
    plan, unrouted = plan_routes(message.pending, deps.routes)
    results = await asyncio.gather(
        *(
            deps.transports[route.kind].deliver(route, envelope_from, rcpts, signed)
            for route, rcpts in plan.items()
        )
    )
    return gather_outcomes(message, results, unrouted)


def return_path(message: ClaimedMessage, bounce_domain: str | None) -> str:
    return verp_address(message.id, bounce_domain) if bounce_domain else message.envelope_from


class _SignOnce:
    """The signed message, signed when a transport first needs it (see SmtpClientPool.send),
    once however many routes the recipients take."""

    __slots__ = ("_domain", "_mime", "_signed")

    def __init__(self, mime: bytes, domain: SendingDomain) -> None:
        self._mime = mime
        self._domain = domain
        self._signed: bytes | None = None

    def __call__(self) -> bytes:
        if self._signed is None:
            self._signed = sign_for_domain(self._mime, self._domain)
        return self._signed


def sign_for_domain(mime: bytes, domain: SendingDomain) -> bytes:
    """DKIM at delivery time (RFC 6376), with the sending domain's own key."""
    return sign(
        mime,
        domain=domain.name,
        selector=domain.dkim_selector,
        private_key_pem=domain.dkim_private_key,
    )


def plan_routes(
    recipients: tuple[str, ...], routes: list[Route]
) -> tuple[dict[Route, list[str]], list[str]]:
    """Group recipients by the route their domain takes; one transaction per route."""
    plan: dict[Route, list[str]] = defaultdict(list)
    unrouted = []
    for recipient in recipients:
        route = route_for(recipient.rpartition("@")[2], routes)
        if route is None:
            unrouted.append(recipient)
        else:
            plan[route].append(recipient)
    return plan, unrouted


def gather_outcomes(
    message: ClaimedMessage, results: list[RouteResult], unrouted: list[str]
) -> Delivery:
    outcomes = [o for result in results for o in result.outcomes]
    outcomes += [RecipientOutcome(r, NO_ROUTE) for r in unrouted]
    captured = next((r.kept for r in results if r.kept is not None), None)
    return Delivery(message=message, outcomes=outcomes, captured=captured)
