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
from misiva.domain.identity import SendingIdentity
from misiva.domain.smtp import SMTPReply
from misiva.mail.dkim import DkimKey, sign_all

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
    message: ClaimedMessage, identity: SendingIdentity, deps: DeliveryDeps
) -> Delivery:
    """Deliver one claimed message; each line is one named step."""
    signed = _SignOnce(message.mime, identity)
    envelope_from = return_path(message, deps.bounce_domain, identity.return_path_domain)
    plan, unrouted = plan_routes(message.pending, deps.routes)
    results = await asyncio.gather(
        *(
            deps.transports[route.kind].deliver(route, envelope_from, rcpts, signed)
            for route, rcpts in plan.items()
        )
    )
    return gather_outcomes(message, results, unrouted)


def return_path(
    message: ClaimedMessage, bounce_domain: str | None, own_domain: str | None = None
) -> str:
    """The VERP address on the domain's own Return-Path name once it is in place (so SPF
    aligns with the From domain, RFC 7489 §3.1.2), else on the bounce domain; without a
    bounce domain, the sender's address."""
    if not bounce_domain:
        return message.envelope_from
    return verp_address(message.id, own_domain or bounce_domain)


class _SignOnce:
    """The signed message, signed when a transport first needs it (see SmtpClientPool.send),
    once however many routes the recipients take."""

    __slots__ = ("_identity", "_mime", "_signed")

    def __init__(self, mime: bytes, identity: SendingIdentity) -> None:
        self._mime = mime
        self._identity = identity
        self._signed: bytes | None = None

    def __call__(self) -> bytes:
        if self._signed is None:
            self._signed = sign_for_domain(self._mime, self._identity)
        return self._signed


def sign_for_domain(mime: bytes, identity: SendingIdentity) -> bytes:
    """DKIM at delivery time (RFC 6376), with each of the domain's active keys: one RSA
    signature, and an Ed25519 one beside it when the domain has such a key (RFC 8463)."""
    keys = [
        DkimKey(k.selector, k.private_key_pem, k.public_txt, k.algorithm) for k in identity.keys
    ]
    return sign_all(mime, domain=identity.domain.name, keys=keys)


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
