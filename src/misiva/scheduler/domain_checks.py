"""Check sending domains' DNS records, on demand and on a schedule, and raise an event (and
its webhooks) when a record that passed before fails now.

The records come from `mail.published.records_to_publish`: every DKIM key not yet retired,
SPF where receivers evaluate it, DMARC, and the domain's Return-Path name. A fresh resolver
each pass: no cached answer hides a record published a moment ago. Each check is kept with
the domain, each status change in its history, in one transaction with its events.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from misiva.dns.resolver import Resolver
from misiva.domain.clock import Clock, utcnow
from misiva.domain.delivery import EventRecord
from misiva.domain.dkim_keys import RotationPolicy
from misiva.domain.dns_checks import (
    DomainCheck,
    RecordCheck,
    RecordKind,
    RecordStatus,
    StatusChange,
    status_changes,
)
from misiva.domain.enums import EventType
from misiva.domain.errors import NotFound
from misiva.domain.records import SendingDomain
from misiva.events.record import record_events
from misiva.mail.published import PublishedRecord, SendingSetup, records_to_publish
from misiva.scheduler import record_checks as checks
from misiva.scheduler.periodic import run_every
from misiva.storage import Database
from misiva.storage import dkim_keys as key_store
from misiva.storage import domains as domain_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DomainChecker:
    """Runs checks through the configured resolver (`MISIVA_DNS_NAMESERVER` or the system's)."""

    nameserver: str | None
    setup: SendingSetup
    timeout: float = 5.0
    policy: RotationPolicy = field(default_factory=RotationPolicy)

    async def check(
        self, db: Database, server_id: int, name: str, *, clock: Clock = utcnow
    ) -> DomainCheck:
        """Check one domain of a server now, keep the result and record what broke."""
        async with db.reading() as tx:
            domain = await domain_store.find_domain(tx, server_id, name)
        if domain is None:
            raise NotFound(f"No sending domain {name} on this server.")
        return await self.check_domain(db, domain, clock=clock)

    async def check_domain(
        self, db: Database, domain: SendingDomain, *, clock: Clock = utcnow
    ) -> DomainCheck:
        async with db.reading() as tx:
            keys = (await key_store.keys_by_domain(tx, [domain.id]))[domain.id]
        check = await self.look(
            domain.name, records_to_publish(domain.name, keys, self.setup), clock
        )
        async with db.transaction() as tx:
            previous = await domain_store.last_check(tx, domain.id)
            changes = status_changes(previous, check)
            await domain_store.save_check(tx, domain.id, check)
            await domain_store.insert_status_changes(tx, domain, changes)
            await record_events(tx, [_broke_event(domain, c) for c in changes if c.broke])
        return check

    async def look(
        self, domain: str, published: list[PublishedRecord], clock: Clock = utcnow
    ) -> DomainCheck:
        """Ask the DNS about each record; the Return-Path first, since whether it is in
        place decides which domain the Return-Path has, and so SPF alignment."""
        resolver = Resolver(self.nameserver, self.timeout, cache_size=0)
        results: dict[int, RecordCheck] = {}
        envelope = self.setup.bounce_domain or domain
        for index, record in enumerate(published):
            if record.kind is RecordKind.RETURN_PATH:
                results[index] = await checks.check_return_path(resolver, record, self.setup)
                envelope = record.name if results[index].ok else envelope
        sending = await checks.sending_addresses(resolver, self.setup)
        for index, record in enumerate(published):
            if record.kind is RecordKind.DKIM:
                results[index] = await checks.check_dkim(resolver, record, self.policy)
            elif record.kind is RecordKind.SPF:
                results[index] = await checks.check_spf(resolver, record, sending)
            elif record.kind is RecordKind.DMARC:
                results[index] = await checks.check_dmarc(resolver, record, domain, envelope)
        return DomainCheck(clock(), tuple(results[i] for i in range(len(published))))

    async def published_selectors(
        self, domain: str, published: list[PublishedRecord]
    ) -> frozenset[str]:
        """The selectors whose key is found in the DNS as ours (what a rotation waits for)."""
        dkim = [r for r in published if r.kind is RecordKind.DKIM]
        check = await self.look(domain, dkim)
        return frozenset(
            record.key.selector
            for record, result in zip(dkim, check.records, strict=True)
            if record.key is not None and result.status is RecordStatus.PASS
        )


def _broke_event(domain: SendingDomain, change: StatusChange) -> EventRecord:
    record = change.record
    return EventRecord(
        message_id=None,
        server_id=domain.server_id,
        type=EventType.DOMAIN_CHECK_FAILED,
        recipient=domain.name,
        at=change.at,
        details={
            "domain": domain.name,
            "record": record.kind.value,
            "host": record.name,
            "type": record.type,
            "status": record.status.value,
            "previous_status": change.old.value if change.old else "",
            "problem": record.problem,
            "fix": record.fix,
            "expected": record.expected,
            "found": "\n".join(record.found),
        },
    )


class DomainCheckTask:
    """The scheduler's job: re-check every domain whose last check is older than the
    interval, a bounded batch a pass, one domain at a time (a few DNS questions each)."""

    def __init__(
        self,
        db: Database,
        checker: DomainChecker,
        *,
        interval_seconds: float,
        clock: Clock = utcnow,
        batch: int = 50,
        poll_seconds: float = 60.0,
    ) -> None:
        self._db = db
        self._checker = checker
        self._interval = timedelta(seconds=interval_seconds)
        self._clock = clock
        self._batch = batch
        self._poll = min(poll_seconds, interval_seconds)

    async def run_once(self) -> int:
        """Domains checked in this pass."""
        async with self._db.reading() as tx:
            due = await domain_store.domains_due_for_check(
                tx, self._clock() - self._interval, self._batch
            )
        for domain in due:
            await self._checker.check_domain(self._db, domain, clock=self._clock)
        if due:
            log.info("domain checks: %d domains checked", len(due))
        return len(due)

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(stop, self._poll, self.run_once, "domain checks")
