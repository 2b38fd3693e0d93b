"""MX and address lookups for delivery, cached by TTL, and TXT lookups for domain checks: the
only module that imports dnspython."""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.resolver

from misiva.domain.errors import MisivaError, SetupError

__all__ = ["DnsError", "Resolver"]

# One day: a record's TTL can be as long as 68 years (RFC 2181 §8); mail routing moves sooner.
MAX_TTL = 86_400
# RFC 6891 §6.2.5 and the 2020 DNS flag day: 1232 octets avoids IP fragmentation of answers.
EDNS_PAYLOAD = 1232
_LOCALHOST = ("127.0.0.1", "::1")

V = TypeVar("V")
MxRecords = tuple[tuple[int, str], ...]


class DnsError(MisivaError):
    """A lookup failed; `permanent` when the name does not exist or accepts no mail."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class _TtlCache(Generic[V]):
    """Values kept until their TTL runs out, at most `max_entries`, the oldest dropped first."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        self._entries: dict[str, tuple[float, V]] = {}
        self._max = max_entries
        self._clock = clock

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: V, ttl: float) -> None:
        if ttl <= 0 or self._max <= 0:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self._max:
            # Dicts keep insertion order, so the first key is the oldest entry.
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + min(ttl, MAX_TTL), value)

    def __len__(self) -> int:
        return len(self._entries)


class Resolver:
    """Finds where mail for a domain goes, asking `nameserver` ("host:port") or the system's."""

    def __init__(
        self,
        nameserver: str | None = None,
        timeout: float = 5.0,
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = _make_resolver(nameserver, timeout)
        self._mx_cache: _TtlCache[MxRecords] = _TtlCache(cache_size, clock)
        self._address_cache: _TtlCache[tuple[str, ...]] = _TtlCache(cache_size, clock)

    async def mx_hosts(self, domain: str) -> list[str]:
        """The hosts that receive mail for `domain`, most preferred first (RFC 5321 §5.1)."""
        literal = _address_literal(domain)
        if literal is not None:
            return [literal]
        name = _to_name(domain)
        key = name.to_text()
        records = self._mx_cache.get(key)
        if records is None:
            records, ttl = await self._lookup_mx(name)
            self._mx_cache.put(key, records, ttl)
        # RFC 5321 §5.1: hosts of equal preference are tried in random order to spread load.
        ordered = sorted(records, key=lambda record: (record[0], random.random()))
        return [host for _, host in ordered]

    async def addresses(self, host: str) -> list[str]:
        """The IPv4 then IPv6 addresses of `host`; IP literals and localhost need no query."""
        if _is_ip(host):
            return [host]
        if host.lower().rstrip(".") == "localhost":
            # RFC 6761 §6.3: localhost is the loopback, whatever the DNS says.
            return list(_LOCALHOST)
        name = _to_name(host)
        key = name.to_text()
        found = self._address_cache.get(key)
        if found is None:
            found, ttl = await self._lookup_addresses(name)
            self._address_cache.put(key, found, ttl)
        return list(found)

    async def txt(self, name: str) -> list[str]:
        """The TXT records of `name`, each one's strings joined (RFC 7208 §3.3, RFC 6376
        §3.6.2.2); none, or no such name, is []. Never cached: a domain check must see a
        record published a moment ago."""
        try:
            answer = await self._query(_to_name(name), dns.rdatatype.TXT)
        except DnsError as error:
            if error.permanent:
                return []
            raise
        return [
            b"".join(record.strings).decode("utf-8", "replace")
            for record in answer.rrset or ()
            if isinstance(record, dns.rdtypes.ANY.TXT.TXT)
        ]

    async def lookup(self, name: str, rdtype: str) -> list[str]:
        """One uncached question for a domain check or SPF evaluation (RFC 7208 §5), answered
        as text: A/AAAA addresses, MX hosts by preference (no implicit MX, RFC 7208 §5.4),
        the CNAME target, or TXT values with their strings joined. No such name or no
        records is [] (a "void lookup", RFC 7208 §4.6.4); other failures raise DnsError."""
        kind = dns.rdatatype.from_text(rdtype)
        try:
            answer = await self._query(_to_name(name), kind)
        except DnsError as error:
            if error.permanent:
                return []
            raise
        records = list(answer.rrset or ())
        if kind == dns.rdatatype.MX:
            exchanges = sorted(
                (r.preference, _host_text(r.exchange))
                for r in records
                if isinstance(r, dns.rdtypes.ANY.MX.MX)
            )
            return [host for _, host in exchanges]
        if kind == dns.rdatatype.TXT:
            return [
                b"".join(r.strings).decode("utf-8", "replace")
                for r in records
                if isinstance(r, dns.rdtypes.ANY.TXT.TXT)
            ]
        if kind in (dns.rdatatype.CNAME, dns.rdatatype.PTR, dns.rdatatype.NS):
            return [r.target.to_text(omit_final_dot=True).lower() for r in records]
        return [r.to_text() for r in records]

    async def _lookup_mx(self, name: dns.name.Name) -> tuple[MxRecords, float]:
        answer = await self._query(name, dns.rdatatype.MX)
        ttl = float(answer.chaining_result.minimum_ttl)
        if answer.rrset is None:
            # RFC 5321 §5.1: without MX records the domain itself is the (implicit) MX,
            # as long as it has an address; `addresses()` refuses a name that has none.
            await self.addresses(name.to_text())
            return ((0, _host_text(name)),), ttl
        records = [rdata for rdata in answer.rrset if isinstance(rdata, dns.rdtypes.ANY.MX.MX)]
        usable = tuple(
            (record.preference, _host_text(record.exchange))
            for record in records
            if record.exchange != dns.name.root
        )
        if not usable:
            # RFC 7505 §3: a "null MX" (`0 .`) says the domain accepts no mail at all.
            raise DnsError(f"{_host_text(name)} accepts no mail (null MX)", permanent=True)
        return usable, ttl

    async def _lookup_addresses(self, name: dns.name.Name) -> tuple[tuple[str, ...], float]:
        v4 = await self._query(name, dns.rdatatype.A)
        ttls = [float(v4.chaining_result.minimum_ttl)]
        found = [r.address for r in v4.rrset or () if isinstance(r, dns.rdtypes.IN.A.A)]
        try:
            v6 = await self._query(name, dns.rdatatype.AAAA)
        except DnsError:
            # Some servers fail AAAA questions; IPv4 addresses already found are enough.
            if not found:
                raise
        else:
            ttls.append(float(v6.chaining_result.minimum_ttl))
            found += [r.address for r in v6.rrset or () if isinstance(r, dns.rdtypes.IN.AAAA.AAAA)]
        if not found:
            raise DnsError(f"{_host_text(name)} has no A or AAAA records", permanent=True)
        return tuple(found), min(ttls)

    async def _query(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.resolver.Answer:
        """One question; failures become DnsError, permanent only when the name does not exist."""
        what = f"{_host_text(name)} {dns.rdatatype.to_text(rdtype)}"
        try:
            return await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise DnsError(
                f"{_host_text(name)}: no such domain (NXDOMAIN)", permanent=True
            ) from None
        except dns.exception.Timeout:
            raise DnsError(f"DNS lookup of {what} timed out", permanent=False) from None
        except dns.resolver.NoNameservers:
            raise DnsError(f"DNS lookup of {what} failed (SERVFAIL)", permanent=False) from None
        except dns.exception.DNSException as exc:
            raise DnsError(f"DNS lookup of {what} failed: {exc}", permanent=False) from None


def _make_resolver(nameserver: str | None, timeout: float) -> dns.asyncresolver.Resolver:
    try:
        if nameserver is None:
            resolver = dns.asyncresolver.Resolver()
        else:
            host, port = _split_host_port(nameserver)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
    except (dns.exception.DNSException, ValueError) as exc:
        raise SetupError(f"no usable DNS resolver ({nameserver or 'system'}): {exc}") from None
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    return resolver


def _split_host_port(nameserver: str) -> tuple[str, int]:
    """Split `127.0.0.1:5353`, `[::1]:5353`, `::1` or `10.0.0.1` (port 53) into host and port."""
    if nameserver.startswith("["):
        host, _, rest = nameserver[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if nameserver.count(":") == 1:
        host, _, port = nameserver.partition(":")
        return host, int(port)
    return nameserver, 53


def _to_name(domain: str) -> dns.name.Name:
    text = domain.strip().rstrip(".")
    if not text:
        raise DnsError("an empty domain name has no mail exchanger", permanent=True)
    try:
        return dns.name.from_text(text + ".")
    except dns.exception.DNSException as exc:
        raise DnsError(f"not a valid domain name: {domain!r} ({exc})", permanent=True) from None


def _host_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _address_literal(domain: str) -> str | None:
    """The IP of an RFC 5321 §4.1.3 address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`)."""
    if not (domain.startswith("[") and domain.endswith("]")):
        return None
    inner = domain[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
    if not _is_ip(inner):
        raise DnsError(f"not a valid address literal: {domain!r}", permanent=True)
    return inner


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
