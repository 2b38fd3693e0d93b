"""DMARC aggregate reports in: read the file (plain, gzip or zip XML), parse it safely, keep
it once per server, and sum the kept reports by source and disposition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from misiva.bounces.dmarc_files import report_attachments, report_xml
from misiva.bounces.dmarc_xml import parse_report
from misiva.domain.clock import Clock, utcnow
from misiva.domain.dmarc import (
    BadReport,
    DmarcReport,
    DmarcSummary,
    ReportSource,
    report_owners,
    summarise,
)
from misiva.domain.errors import MisivaError
from misiva.storage import Database
from misiva.storage import dmarc as dmarc_store


@dataclass(frozen=True, slots=True)
class Ingested:
    """One report read: whether it was new (else kept already), and its servers."""

    report: DmarcReport
    server_ids: tuple[int, ...]
    new: bool


@dataclass(frozen=True, slots=True)
class MailedReports:
    """What one mail to the bounce receiver carried: reports kept, and files refused."""

    ingested: tuple[Ingested, ...]
    refused: tuple[str, ...]


class DmarcReports:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def upload(self, server_id: int, data: bytes) -> Ingested:
        """A file a server's user gave (API or UI): kept under that server, whatever its
        domain, since whoever holds its token or its pages vouches for it."""
        report = read_report(data)
        async with self._db.transaction() as tx:
            new_id = await dmarc_store.insert_report(
                tx, server_id, report, ReportSource.UPLOAD, self._clock()
            )
        return Ingested(report, (server_id,), new_id is not None)

    async def from_mail(self, raw: bytes) -> MailedReports:
        """Every report attached to a mail, each kept for the servers that send as its
        domain; a report for a domain no server has is refused (the receiver is no inbox)."""
        ingested, refused = [], []
        for name, data in report_attachments(raw):
            try:
                report = read_report(data)
            except MisivaError as error:
                refused.append(f"{name or 'attachment'}: {error.message}")
                continue
            kept = await self._keep_for_domain(report)
            if kept is None:
                refused.append(f"{name or 'attachment'}: no server sends as {report.policy.domain}")
            else:
                ingested.append(kept)
        return MailedReports(tuple(ingested), tuple(refused))

    async def _keep_for_domain(self, report: DmarcReport) -> Ingested | None:
        now = self._clock()
        async with self._db.transaction() as tx:
            claims = await dmarc_store.domain_claims(tx, report.policy.domain)
            servers = report_owners(claims)
            if not servers:
                return None
            new = [
                await dmarc_store.insert_report(tx, s, report, ReportSource.MAIL, now)
                for s in servers
            ]
        return Ingested(report, servers, any(n is not None for n in new))

    async def summary(
        self, server_id: int, *, domain: str | None = None, since: datetime | None = None
    ) -> DmarcSummary:
        async with self._db.reading() as tx:
            reports, lines = await dmarc_store.source_lines(
                tx, server_id, domain=domain, since=since
            )
        return summarise(reports, lines)


def read_report(data: bytes) -> DmarcReport:
    """A report file's bytes to the report; BadReport or ReportTooLarge say why not."""
    if not data:
        raise BadReport("The file is empty.")
    return parse_report(report_xml(data))
