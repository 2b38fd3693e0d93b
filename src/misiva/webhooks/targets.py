"""Where a webhook may post: public addresses only, unless the operator allows private ones.

A webhook URL is chosen by a tenant, and Misiva posts to it from inside the operator's
network: without this check a tenant could make Misiva call its metadata service
(169.254.169.254), its database's HTTP port or anything on loopback (SSRF). So the URL's
host is resolved and every address it resolves to must be public, when the webhook is saved
and again at each post, and the post then goes to the very address that was checked (the
name is not resolved a second time by the HTTP client, so a DNS answer that changes between
check and connect, "DNS rebinding", cannot slip a private address in).
MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS turns the check off (receivers on the same host or LAN;
the tests' receivers listen on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from misiva.domain.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name resolves to (the system resolver by default).
Resolve = Callable[[str, int], Awaitable[list[str]]]
# Postmark's "invalid webhook URL" (reference/postmark-api.md §1.3, 600-611).
INVALID_URL = 606


class TargetRefused(InvalidRequest):
    """A webhook URL whose host is, or resolves to, an address that is not public."""

    error_code = INVALID_URL


class TargetUnresolved(InvalidRequest):
    """A webhook URL whose host does not resolve now (a post is retried later)."""

    error_code = INVALID_URL


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared (CGNAT),
    reserved, unspecified or multicast; an IPv4-mapped IPv6 address is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast and not address.is_unspecified


@dataclass(frozen=True, slots=True)
class Pinned:
    """A post's target with its host replaced by the checked address: the URL to connect
    to, and the Host header and TLS server name (SNI, certificate check) of the original."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookTargets:
    allow_private: bool = False
    resolve: Resolve = field(default=system_resolve)

    async def check(self, url: str) -> None:
        """When a webhook is saved: refuse a host that is, or resolves to, a non-public
        address. A name that does not resolve now is accepted (a receiver being set up);
        every post checks it again."""
        if self.allow_private:
            return
        try:
            await self._addresses(url)
        except TargetUnresolved:
            return

    async def pin(self, url: str) -> Pinned:
        """At each post: the URL to connect to, on the first checked public address."""
        if self.allow_private:
            return Pinned(url)
        parts = urlsplit(url)
        address = (await self._addresses(url))[0]
        host = f"[{address}]" if address.version == 6 else str(address)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + host
        if parts.port is not None:
            netloc += f":{parts.port}"
        return Pinned(
            urlunsplit(parts._replace(netloc=netloc)),
            host_header=parts.netloc.rpartition("@")[2],
            sni_hostname=parts.hostname if parts.scheme == "https" else None,
        )

    async def _addresses(self, url: str) -> list[IPAddress]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                found = await self.resolve(host, port)
            except OSError as error:
                raise TargetUnresolved(f"Webhook host {host!r} does not resolve: {error}") from None
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not addresses:
            raise TargetUnresolved(f"Webhook host {host!r} does not resolve.")
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"Invalid webhook 'Url' {url!r}: {host} is {address}, not a public address "
                    "(set MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS to post to private networks)."
                )
        return addresses
