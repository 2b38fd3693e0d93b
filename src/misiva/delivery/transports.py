"""Route kinds as small transports behind one Protocol, registered in one explicit table."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from misiva.delivery.mta_sts import MtaSts, StsMode
from misiva.delivery.shaping import Shaper, provider_of
from misiva.delivery.smtp_client import SmtpClientPool
from misiva.dns.resolver import DnsError, Resolver
from misiva.domain.delivery import Destination, RecipientOutcome, Route
from misiva.domain.enums import RouteKind, TlsMode
from misiva.domain.smtp import CAPTURED, ReplyClass, SMTPReply

log = logging.getLogger(__name__)

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
    """Deliver to each recipient domain's mail exchangers, in preference order (RFC 5321 §5),
    at the pace its provider allows (shaping.py) and as its MTA-STS policy demands."""

    def __init__(
        self,
        pool: SmtpClientPool,
        resolver: Resolver,
        port: int = 25,
        *,
        shaper: Shaper | None = None,
        mta_sts: MtaSts | None = None,
    ) -> None:
        self._pool = pool
        self._resolver = resolver
        self._port = port
        self._shaper = shaper or Shaper()
        self._sts = mta_sts

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
        """Each line one step: find the exchangers, apply the domain's MTA-STS policy, wait
        for the provider's permit, try the exchangers, tell the shaper how it went."""
        try:
            hosts = await self._resolver.mx_hosts(domain)
        except DnsError as error:
            return _unresolved(domain, recipients, error)
        sts = await self._apply_policy(domain, hosts)
        if sts.refusal is not None:
            return [RecipientOutcome(r, sts.refusal, host=domain) for r in recipients]
        hosts = sts.hosts
        provider = provider_of(hosts)
        permit = await self._shaper.acquire(provider)
        if permit.held_seconds is not None:
            reply = SMTPReply(451, f"4.7.0 held back: sending to {provider} is at its limit")
            return [
                RecipientOutcome(r, reply, host=provider, held_seconds=permit.held_seconds)
                for r in recipients
            ]
        try:
            outcomes = await self._to_exchangers(
                provider, hosts, sts.verified, envelope_from, recipients, data
            )
        finally:
            permit.release()
        if sts.note:
            outcomes = [replace(o, note=sts.note) for o in outcomes]
        return outcomes

    async def _apply_policy(self, domain: str, hosts: list[str]) -> _StsPlan:
        """RFC 8461 §4-5: under `enforce` only the MX hosts the policy names, each with a
        valid certificate for its name; `testing` delivers as before and notes what would
        have failed (the MX names; certificates are not tried twice)."""
        policy = await self._sts.policy(domain) if self._sts is not None else None
        if policy is None or policy.mode is StsMode.NONE:
            return _StsPlan(hosts)
        allowed = [host for host in hosts if policy.allows(host)]
        if policy.mode is StsMode.TESTING:
            refused = sorted(set(hosts) - set(allowed))
            if not refused:
                return _StsPlan(hosts)
            note = f"MTA-STS testing: {', '.join(refused)} not in the policy"
            log.warning("%s: %s", domain, note)
            return _StsPlan(hosts, note=note)
        if not allowed:
            # §5.1: no MX host matches an enforced policy: do not deliver; try again later.
            reply = SMTPReply(451, f"4.7.5 MTA-STS: no MX host of {domain} matches its policy")
            return _StsPlan([], refusal=reply)
        return _StsPlan(allowed, verified=True)

    async def _to_exchangers(
        self,
        provider: str,
        hosts: list[str],
        verified: bool,
        envelope_from: str,
        recipients: list[str],
        data: Message,
    ) -> list[RecipientOutcome]:
        outcomes: list[RecipientOutcome] = []
        for host in hosts:
            outcomes = await self._to_host(host, verified, envelope_from, recipients, data)
            if self._shaper.observe(provider, [o.reply for o in outcomes]):
                # Throttling is about us, not this host: every exchanger of the provider
                # would say the same, and asking each would only make it worse.
                break
            # RFC 5321 §5.1: when a host cannot take the mail now, try the next exchanger.
            if any(o.reply_class is not ReplyClass.TRANSIENT for o in outcomes):
                break
        return outcomes

    async def _to_host(
        self, host: str, verified: bool, envelope_from: str, recipients: list[str], data: Message
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
            destination = Destination(
                host=ip,
                port=self._port,
                tls=TlsMode.STARTTLS if verified else TlsMode.OPPORTUNISTIC,
                tls_name=host if verified else None,
            )
            outcomes = await self._pool.send(destination, envelope_from, recipients, data)
            outcomes = [
                RecipientOutcome(o.recipient, o.reply, host=f"{host} ({ip})", ip=ip)
                for o in outcomes
            ]
            if any(o.reply_class is not ReplyClass.TRANSIENT for o in outcomes):
                break
        return outcomes


@dataclass(frozen=True, slots=True)
class _StsPlan:
    """The exchangers a domain's MTA-STS policy lets us use, and how."""

    hosts: list[str]
    verified: bool = False  # STARTTLS with a certificate valid for the MX host's name
    note: str = ""
    refusal: SMTPReply | None = None


def _unresolved(domain: str, recipients: list[str], error: DnsError) -> list[RecipientOutcome]:
    # RFC 3463: 5.1.2 bad destination system, 4.4.3 directory server failure.
    reply = (
        SMTPReply(550, f"5.1.2 {error.message}")
        if error.permanent
        else SMTPReply(451, f"4.4.3 {error.message}")
    )
    return [RecipientOutcome(r, reply, host=domain) for r in recipients]


def transport_table(
    pool: SmtpClientPool,
    resolver: Resolver,
    mx_port: int,
    *,
    shaper: Shaper | None = None,
    mta_sts: MtaSts | None = None,
) -> dict[RouteKind, Transport]:
    """The one table of route kinds; a new kind is a new class and a new line here."""
    return {
        RouteKind.MX: MxTransport(pool, resolver, mx_port, shaper=shaper, mta_sts=mta_sts),
        RouteKind.SMTP: RelayTransport(pool),
        RouteKind.CAPTURE: CaptureTransport(),
    }
