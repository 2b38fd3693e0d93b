"""SPF (RFC 7208): evaluate a domain's record for one sending address, as a receiver would.

Written here rather than taken from pyspf, the one SPF evaluator on PyPI: its DNS layer is a
module-level function over dnspython's process-wide default resolver, so it can be pointed
at `MISIVA_DNS_NAMESERVER` (a host *and port*, as the tests' local server needs) only by
patching globals that every other caller shares; it is synchronous, so each of its up to
ten lookups would block the event loop; and its last release is from 2020. What a domain
check needs is small: the mechanisms, the modifiers, the macros, and the limits of §4.6.4.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum

from misiva.dns.resolver import DnsError, Resolver

__all__ = ["SpfResult", "SpfVerdict", "check_host", "spf_records"]

# RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups, 10 MX or PTR names each, and
# (SHOULD) at most 2 lookups that find nothing, before the result is a permerror.
LOOKUP_LIMIT = 10
MX_NAMES_LIMIT = 10
VOID_LIMIT = 2
_VERSION = re.compile(r"^v=spf1(\s|$)", re.I)
_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MECHANISM = re.compile(
    r"^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?::([^/]+))?"
    r"(?:/(\d+))?(?://(\d+))?$",
    re.I,
)
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.\-]*)=(.*)$", re.I)
_MACRO = re.compile(r"%\{([slodipvh])(\d*)(r?)([.\-+,/_=]*)\}|%%|%_|%-", re.I)


class SpfResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    NEUTRAL = "neutral"
    NONE = "none"
    PERMERROR = "permerror"
    TEMPERROR = "temperror"


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    """The result, why (in a sentence), and how many lookups the evaluation took."""

    result: SpfResult
    reason: str
    lookups: int
    mechanism: str = ""


class _Abort(Exception):
    """Ends the evaluation with a permerror or temperror (RFC 7208 §4.6.4, §2.6.7)."""

    def __init__(self, result: SpfResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


@dataclass
class _Budget:
    lookups: int = 0
    voids: int = 0
    seen: list[str] = field(default_factory=list)

    def spend(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _Abort(
                SpfResult.PERMERROR,
                f"The record needs more than {LOOKUP_LIMIT} DNS lookups (at {term}); "
                "receivers stop there and treat SPF as broken (RFC 7208 §4.6.4).",
            )

    def void(self, name: str) -> None:
        self.voids += 1
        if self.voids > VOID_LIMIT:
            raise _Abort(
                SpfResult.PERMERROR,
                f"More than {VOID_LIMIT} lookups found nothing (the last: {name}).",
            )


def spf_records(txt_values: list[str]) -> list[str]:
    """The SPF records among a name's TXT values (RFC 7208 §4.5)."""
    return [v.strip() for v in txt_values if _VERSION.match(v.strip())]


async def check_host(
    resolver: Resolver, ip: str | None, domain: str, sender: str | None = None
) -> SpfVerdict:
    """RFC 7208 §4 check_host() for `ip` sending as `sender` (default postmaster@domain).

    With `ip` None no mechanism matches, so every term is walked: what the record costs in
    lookups, and whether it is valid, for any address.
    """
    budget = _Budget()
    sender = sender or f"postmaster@{domain}"
    try:
        result, mechanism = await _check(resolver, budget, _ip(ip), domain, sender)
    except _Abort as stop:
        return SpfVerdict(stop.result, stop.reason, budget.lookups)
    reason = (
        f"{ip} matches {mechanism}" if mechanism else "no mechanism matches; the default applies"
    )
    if result is SpfResult.NONE:
        reason = f"{domain} publishes no SPF record"
    return SpfVerdict(result, reason, budget.lookups, mechanism)


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(ip: str | None) -> Address | None:
    if ip is None:
        return None
    address = ipaddress.ip_address(ip)
    # RFC 7208 §5: an IPv4-mapped IPv6 address is evaluated as the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


async def _check(
    resolver: Resolver, budget: _Budget, ip: Address | None, domain: str, sender: str
) -> tuple[SpfResult, str]:
    record = await _record(resolver, domain)
    if record is None:
        return SpfResult.NONE, ""
    terms = record.split()[1:]
    redirect = None
    mechanisms = []
    for term in terms:
        modifier = _MODIFIER.match(term)
        if modifier and not _MECHANISM.match(term):
            if modifier.group(1).lower() == "redirect":
                if redirect is not None:
                    raise _Abort(SpfResult.PERMERROR, f"{domain}: redirect= appears twice.")
                redirect = modifier.group(2)
            continue  # exp= and unknown modifiers do not change the result (§6).
        parsed = _MECHANISM.match(term)
        if parsed is None:
            raise _Abort(SpfResult.PERMERROR, f"{domain}: {term!r} is not an SPF term.")
        mechanisms.append((term, parsed))
    matched: tuple[SpfResult, str] | None = None
    for term, parsed in mechanisms:
        if await _matches(resolver, budget, ip, domain, sender, parsed):
            matched = (SpfResult(_QUALIFIERS[parsed.group(1) or "+"]), term)
            if ip is not None:
                return matched
    if matched is not None:
        return matched
    if redirect is not None and not any(p.group(2).lower() == "all" for _, p in mechanisms):
        budget.spend(f"redirect={redirect}")
        target = _expand(redirect, ip, domain, sender)
        result, mechanism = await _check(resolver, budget, ip, target, sender)
        if result is SpfResult.NONE:
            raise _Abort(SpfResult.PERMERROR, f"redirect={target} has no SPF record.")
        return result, mechanism
    return SpfResult.NEUTRAL, ""


async def _record(resolver: Resolver, domain: str) -> str | None:
    try:
        found = spf_records(await resolver.lookup(domain, "TXT"))
    except DnsError as error:
        raise _Abort(SpfResult.TEMPERROR, error.message) from None
    if len(found) > 1:
        raise _Abort(
            SpfResult.PERMERROR,
            f"{domain} publishes {len(found)} SPF records; receivers need exactly one "
            "(RFC 7208 §4.5).",
        )
    return found[0] if found else None


async def _matches(
    resolver: Resolver,
    budget: _Budget,
    ip: Address | None,
    domain: str,
    sender: str,
    parsed: re.Match[str],
) -> bool:
    """Whether one mechanism matches `ip` (RFC 7208 §5); lookups are counted as they go."""
    name, value = parsed.group(2).lower(), parsed.group(3)
    cidr4, cidr6 = parsed.group(4), parsed.group(5)
    term = parsed.group(0)
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        # The regular expression puts ip4's and ip6's prefix length in the same group.
        return _in_network(ip, value or "", cidr4, term)
    budget.spend(term)
    target = _expand(value, ip, domain, sender) if value else domain
    if name == "include":
        if not value:
            raise _Abort(SpfResult.PERMERROR, f"{domain}: include needs a domain.")
        result, _ = await _check(resolver, budget, ip, target, sender)
        if result is SpfResult.NONE:
            raise _Abort(SpfResult.PERMERROR, f"include:{target} has no SPF record.")
        return result is SpfResult.PASS
    if name == "exists":
        return bool(await _addresses(resolver, budget, target, "A"))
    if name == "ptr":
        # RFC 7208 §5.5: "ptr" SHOULD NOT be published; it costs receivers a reverse lookup
        # and many skip it. It is counted, and never taken as authorising us.
        return False
    hosts = [target]
    if name == "mx":
        hosts = await _names(resolver, budget, target)
        if len(hosts) > MX_NAMES_LIMIT:
            raise _Abort(SpfResult.PERMERROR, f"{target} has more than 10 MX hosts.")
    for host in hosts:
        rdtype = "AAAA" if isinstance(ip, ipaddress.IPv6Address) else "A"
        for found in await _addresses(resolver, budget, host, rdtype):
            if ip is not None and ip in _network(found, cidr4 if rdtype == "A" else cidr6):
                return True
    return False


async def _addresses(resolver: Resolver, budget: _Budget, name: str, rdtype: str) -> list[str]:
    try:
        found = await resolver.lookup(name, rdtype)
    except DnsError as error:
        raise _Abort(SpfResult.TEMPERROR, error.message) from None
    if not found:
        budget.void(name)
    return found


async def _names(resolver: Resolver, budget: _Budget, name: str) -> list[str]:
    try:
        found = await resolver.lookup(name, "MX")
    except DnsError as error:
        raise _Abort(SpfResult.TEMPERROR, error.message) from None
    if not found:
        budget.void(name)
    return found


def _in_network(ip: Address | None, value: str, cidr: str | None, term: str) -> bool:
    try:
        network = _network(value, cidr)
    except ValueError:
        raise _Abort(SpfResult.PERMERROR, f"{term!r} is not a valid network.") from None
    return ip is not None and ip in network


def _network(address: str, cidr: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = f"{address}/{cidr}" if cidr else address
    return ipaddress.ip_network(text, strict=False)


def _expand(spec: str, ip: Address | None, domain: str, sender: str) -> str:
    """Macro expansion of a domain-spec (RFC 7208 §7): %{s l o d i p v h}, with the digit
    and `r` transformers and delimiters; %%, %_ and %- are a percent, space and %20."""
    local, _, sender_domain = sender.rpartition("@")

    def value(letter: str) -> str:
        if letter == "s":
            return sender
        if letter == "l":
            return local or "postmaster"
        if letter == "o":
            return sender_domain
        if letter in ("d", "h"):
            return domain
        if letter == "i":
            if ip is None:
                return "0.0.0.0"
            if isinstance(ip, ipaddress.IPv6Address):
                return ".".join(ip.exploded.replace(":", ""))
            return str(ip)
        if letter == "v":
            return "ip6" if isinstance(ip, ipaddress.IPv6Address) else "in-addr"
        return "unknown"  # p: the validated reverse name, which we do not look up (§7.3)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "%%":
            return "%"
        if whole == "%_":
            return " "
        if whole == "%-":
            return "%20"
        letter, digits, reverse, delimiters = match.groups()
        parts = re.split("[" + re.escape(delimiters or ".") + "]", value(letter.lower()))
        if reverse:
            parts.reverse()
        if digits:
            parts = parts[-int(digits) :] if int(digits) else parts
        return ".".join(parts)

    return _MACRO.sub(replace, spec).rstrip(".")
