"""Route kinds as small transports behind one Protocol, registered in one explicit table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from misiva.delivery.smtp_client import SmtpClientPool
from misiva.dns.resolver import DnsError, Resolver
from misiva.domain.delivery import Destination, RecipientOutcome, Route
from misiva.domain.enums import RouteKind, TlsMode
from misiva.domain.smtp import CAPTURED, ReplyClass, SMTPReply

# The message to send, made (DKIM-signed) on first call and the same bytes after.
Message = Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class RouteResult:
    outcomes: list[RecipientOutcome]
    # The signed message, when the route keeps it (capture) instead of sending it.
    kept: bytes | None = None


class Transport(Protocol):
    async def deliver(
        self, route: Route, envelope_from: str, recipients: Sequence[str], data: Message
    ) -> RouteResult: ...


class CaptureTransport:
    """Keep the final signed message in the built-in inbox; send nothing."""

    async def deliver(
        self, route: Route, envelope_from: str, recipients: Sequence[str], data: Message
    ) -> RouteResult:
        return RouteResult(
            [RecipientOutcome(r, CAPTURED, host="capture") for r in recipients], data()
        )


class RelayTransport:
    """Hand everything to one relay host (a smarthost), as its route says."""

    def __init__(self, pool: SmtpClientPool) -> None:
        self._pool = pool

    async def deliver(
        self, route: Route, envelope_from: str, recipients: Sequence[str], data: Message
    ) -> RouteResult:
        destination = Destination(
            host=route.host,
            port=route.port,
            tls=route.tls,
            username=route.username,
            password=route.password,
        )
        return RouteResult(await self._pool.send(destination, envelope_from, recipients, data))


class MxTransport:
    """Deliver to each recipient domain's mail exchangers, in preference order (RFC 5321 §5)."""

    def __init__(self, pool: SmtpClientPool, resolver: Resolver, port: int = 25) -> None:
        self._pool = pool
        self._resolver = resolver
        self._port = port

    async def deliver(
        self, route: Route, envelope_from: str, recipients: Sequence[str], data: Message
    ) -> RouteResult:
        by_domain: dict[str, list[str]] = defaultdict(list)
        for recipient in recipients:
            by_domain[recipient.rpartition("@")[2].lower()].append(recipient)
        outcomes: list[RecipientOutcome] = []
        for domain, group in by_domain.items():
            outcomes += await self._to_domain(domain, envelope_from, group, data)
        return RouteResult(outcomes)

    async def _to_domain(
        self, domain: str, envelope_from: str, recipients: list[str], data: Message
    ) -> list[RecipientOutcome]:
        try:
            hosts = await self._resolver.mx_hosts(domain)
        except DnsError as error:
            # RFC 3463: 5.1.2 bad destination system, 4.4.3 directory server failure.
            reply = (
                SMTPReply(550, f"5.1.2 {error.message}")
                if error.permanent
                else SMTPReply(451, f"4.4.3 {error.message}")
            )
            return [RecipientOutcome(r, reply, host=domain) for r in recipients]
        outcomes: list[RecipientOutcome] = []
        for host in hosts:
            outcomes = await self._to_host(host, envelope_from, recipients, data)
            # RFC 5321 §5.1: when a host cannot take the mail now, try the next exchanger.
            if any(o.reply_class is not ReplyClass.TRANSIENT for o in outcomes):
                break
        return outcomes

    async def _to_host(
        self, host: str, envelope_from: str, recipients: list[str], data: Message
    ) -> list[RecipientOutcome]:
        try:
            addresses = await self._resolver.addresses(host)
        except DnsError as error:
            addresses, failure = [], error.message
        else:
            failure = "the exchanger has no address"
        if not addresses:
            reply = SMTPReply(451, f"4.4.3 {host}: {failure}")
            return [RecipientOutcome(r, reply, host=host) for r in recipients]
        outcomes: list[RecipientOutcome] = []
        for ip in addresses[:2]:
            # Connect by address: our resolver (not the system's) found it.
            destination = Destination(host=ip, port=self._port, tls=TlsMode.OPPORTUNISTIC)
            outcomes = await self._pool.send(destination, envelope_from, recipients, data)
            outcomes = [
                RecipientOutcome(o.recipient, o.reply, host=f"{host} ({ip})", ip=ip)
                for o in outcomes
            ]
            if any(o.reply_class is not ReplyClass.TRANSIENT for o in outcomes):
                break
        return outcomes


def transport_table(
    pool: SmtpClientPool, resolver: Resolver, mx_port: int
) -> dict[RouteKind, Transport]:
    """The one table of route kinds; a new kind is a new class and a new line here."""
    return {
        RouteKind.MX: MxTransport(pool, resolver, mx_port),
        RouteKind.SMTP: RelayTransport(pool),
        RouteKind.CAPTURE: CaptureTransport(),
    }
