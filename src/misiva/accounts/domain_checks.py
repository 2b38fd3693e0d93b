"""Check a sending domain's DNS: are the DKIM, SPF, DMARC and Return-Path records published?

The records come from `mail.dkim.dns_records` (what `misiva domains add` says to publish);
the check asks the DNS (`MISIVA_DNS_NAMESERVER`, else the system's resolver) and keeps what
it found with the domain, so the domains page shows the last check and when it ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from misiva.dns.resolver import DnsError, Resolver
from misiva.domain.clock import Clock, utcnow
from misiva.domain.dns_checks import DomainCheck, RecordCheck, RecordKind
from misiva.domain.errors import NotFound
from misiva.domain.records import SendingDomain
from misiva.mail.dkim import DkimKey, DnsRecord, dns_records
from misiva.storage import Database
from misiva.storage import domains as domain_store

_KEY = re.compile(r"(?:^|;)\s*p=([^;]*)")


@dataclass(frozen=True, slots=True)
class ReturnPath:
    """Where bounces come back: `MISIVA_BOUNCE_DOMAIN`, whose MX must be this host."""

    bounce_domain: str | None
    host: str

    def record(self) -> DnsRecord | None:
        if not self.bounce_domain:
            return None
        return DnsRecord(self.bounce_domain, "MX", f"10 {self.host}.")


def records_to_publish(domain: SendingDomain, return_path: ReturnPath) -> list[DnsRecord]:
    """DKIM, SPF and DMARC for the domain, then the installation's Return-Path MX (if any)."""
    key = DkimKey(domain.dkim_selector, domain.dkim_private_key, domain.dkim_public_txt)
    records = list(dns_records(domain.name, key).all)
    bounce = return_path.record()
    return [*records, bounce] if bounce else records


@dataclass(frozen=True, slots=True)
class DomainChecker:
    """Runs checks through the configured resolver; a fresh one each time, so no cached
    answer hides a record published a moment ago."""

    nameserver: str | None
    return_path: ReturnPath
    timeout: float = 5.0

    async def check(
        self, db: Database, server_id: int, name: str, *, clock: Clock = utcnow
    ) -> DomainCheck:
        async with db.reading() as tx:
            domain = await domain_store.find_domain(tx, server_id, name)
        if domain is None:
            raise NotFound(f"No sending domain {name} on this server.")
        resolver = Resolver(self.nameserver, self.timeout, cache_size=0)
        published = records_to_publish(domain, self.return_path)
        # RecordKind lists them in the order records_to_publish gives them; the Return-Path
        # only comes with a bounce domain, so the shorter list ends the pairs.
        results = [
            await _check_one(resolver, kind, record)
            for kind, record in zip(RecordKind, published, strict=False)
        ]
        check = DomainCheck(clock(), tuple(results))
        async with db.transaction() as tx:
            await domain_store.save_check(tx, domain.id, check)
        return check


async def _check_one(resolver: Resolver, kind: RecordKind, record: DnsRecord) -> RecordCheck:
    try:
        if kind is RecordKind.RETURN_PATH:
            found = await resolver.mx_hosts(record.name)
        else:
            found = await resolver.txt(record.name)
    except DnsError as error:
        return _result(kind, record, [], error.message)
    return _result(kind, record, found, _problem(kind, record, found))


def _result(kind: RecordKind, record: DnsRecord, found: list[str], problem: str) -> RecordCheck:
    return RecordCheck(
        kind, record.name, record.type, record.value, tuple(found), not problem, problem
    )


def _problem(kind: RecordKind, record: DnsRecord, found: list[str]) -> str:
    """Empty when the published records do their job; else what is wrong, in a sentence."""
    if kind is RecordKind.DKIM:
        # RFC 6376 §3.6.1: what matters is the key (p=); tags may come in any order.
        keys = {_key(value) for value in found}
        return "" if _key(record.value) in keys else "The DKIM key is not published."
    if kind is RecordKind.RETURN_PATH:
        host = record.value.split()[-1].rstrip(".").lower()
        return "" if host in found else f"The MX record does not point at {host}."
    prefix = "v=spf1" if kind is RecordKind.SPF else "v=dmarc1"
    matching = [v for v in found if v.strip().lower().split(" ")[0].rstrip(";") == prefix]
    if not matching:
        return f"No {kind.value.upper()} record is published."
    if len(matching) > 1:
        # RFC 7208 §4.5 and RFC 7489 §6.6.3: more than one record means none applies.
        return f"More than one {kind.value.upper()} record is published; keep one."
    return ""


def _key(value: str) -> str:
    found = _KEY.search(value)
    return re.sub(r"\s+", "", found.group(1)) if found else ""
