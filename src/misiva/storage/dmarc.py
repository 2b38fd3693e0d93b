"""DMARC aggregate reports and their records: store each once, list them, sum them by source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from misiva.domain.dmarc import (
    AuthResult,
    Disposition,
    DmarcReport,
    DmarcRow,
    DomainClaim,
    ReportSource,
    SourceLine,
    StoredReport,
)
from misiva.domain.dns_checks import RecordCheck, RecordKind, RecordStatus
from misiva.storage.engine import Tx
from misiva.storage.tables import domains
from misiva.storage.tables_health import dmarc_records, dmarc_reports

_r = dmarc_reports
_d = dmarc_records


async def insert_report(
    tx: Tx, server_id: int, report: DmarcReport, source: ReportSource, now: datetime
) -> int | None:
    """The new report's id; None when this reporter's report id is already kept (reporters
    resend, and a report may come by mail and be uploaded too)."""
    insert = pg_insert if tx.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(_r)
        .values(
            server_id=server_id,
            org_name=report.org_name[:255],
            org_email=report.org_email,
            report_id=report.report_id[:255],
            begin_at=report.begin,
            end_at=report.end,
            domain=report.policy.domain[:253],
            policy=report.policy.to_json(),
            messages=report.messages,
            passed=report.passed,
            source=source.value,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["server_id", "org_name", "report_id"])
        .returning(_r.c.id)
    )
    new_id = (await tx.execute(statement)).scalar_one_or_none()
    if new_id is None:
        return None
    if report.rows:
        await tx.execute(sa.insert(_d), [_record_values(int(new_id), row) for row in report.rows])
    return int(new_id)


def _record_values(report_id: int, row: DmarcRow) -> dict[str, Any]:
    return {
        "dmarc_report_id": report_id,
        "source_ip": row.source_ip[:45],
        "count": row.count,
        "disposition": row.disposition.value,
        "dkim": row.dkim,
        "spf": row.spf,
        "header_from": row.header_from[:253],
        "envelope_from": row.envelope_from[:253],
        "auth": [
            {"method": a.method, "domain": a.domain, "result": a.result, "selector": a.selector}
            for a in row.auth
        ],
    }


async def domain_claims(tx: Tx, domain: str) -> list[DomainClaim]:
    """The servers that send as the report's domain or a subdomain of it (a DMARC record at
    example.com covers mail.example.com, whose reports name example.com), each with whether
    its last DNS check found its DKIM record."""
    name = domain.lower().rstrip(".")
    rows = await tx.execute(
        sa.select(domains.c.server_id, domains.c.created_at, domains.c.dns_check)
        .where(sa.or_(domains.c.name == name, domains.c.name.like("%." + _escaped(name), "\\")))
        .order_by(domains.c.server_id, domains.c.id)
    )
    return [
        DomainClaim(
            server_id=int(row.server_id),
            added_at=row.created_at,
            dkim_verified=any(
                check.kind is RecordKind.DKIM and check.status is RecordStatus.PASS
                for check in (RecordCheck.from_json(r) for r in row.dns_check or ())
            ),
        )
        for row in rows
    ]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _report(row: Any) -> StoredReport:
    return StoredReport(
        id=int(row.id),
        server_id=row.server_id,
        org_name=row.org_name,
        org_email=row.org_email,
        report_id=row.report_id,
        begin=row.begin_at,
        end=row.end_at,
        domain=row.domain,
        policy=dict(row.policy),
        messages=int(row.messages),
        passed=int(row.passed),
        source=ReportSource(row.source),
        received_at=row.received_at,
    )


def _where(server_id: int, domain: str | None, since: datetime | None) -> list[Any]:
    where = [_r.c.server_id == server_id]
    if domain:
        where.append(_r.c.domain == domain.lower())
    if since is not None:
        where.append(_r.c.end_at >= since)
    return where


async def list_reports(
    tx: Tx,
    server_id: int,
    *,
    domain: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[StoredReport]]:
    """The server's reports, the latest period first, with how many there are."""
    where = _where(server_id, domain, since)
    total = await tx.execute(sa.select(sa.func.count()).select_from(_r).where(*where))
    rows = await tx.execute(
        sa.select(_r)
        .where(*where)
        .order_by(_r.c.end_at.desc(), _r.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total.scalar_one()), [_report(row) for row in rows]


async def get_report(tx: Tx, server_id: int, report_id: int) -> StoredReport | None:
    row = (
        await tx.execute(sa.select(_r).where(_r.c.server_id == server_id, _r.c.id == report_id))
    ).one_or_none()
    return _report(row) if row else None


async def report_rows(tx: Tx, report_id: int) -> list[DmarcRow]:
    rows = await tx.execute(
        sa.select(_d).where(_d.c.dmarc_report_id == report_id).order_by(_d.c.count.desc(), _d.c.id)
    )
    return [
        DmarcRow(
            source_ip=row.source_ip,
            count=int(row._mapping["count"]),
            disposition=Disposition(row.disposition),
            dkim=row.dkim,
            spf=row.spf,
            header_from=row.header_from,
            envelope_from=row.envelope_from,
            auth=tuple(AuthResult(**a) for a in row.auth),
        )
        for row in rows
    ]


async def report_domains(tx: Tx, server_id: int) -> list[str]:
    rows = await tx.execute(
        sa.select(_r.c.domain).where(_r.c.server_id == server_id).distinct().order_by(_r.c.domain)
    )
    return [str(d) for (d,) in rows]


async def source_lines(
    tx: Tx, server_id: int, *, domain: str | None = None, since: datetime | None = None
) -> tuple[int, list[SourceLine]]:
    """How many reports match, and per source IP its messages, how many passed DMARC (an
    aligned DKIM or SPF pass), the From domains it used and its messages per disposition."""
    where = _where(server_id, domain, since)
    reports = await tx.execute(sa.select(sa.func.count()).select_from(_r).where(*where))
    passed = sa.case((sa.or_(_d.c.dkim == "pass", _d.c.spf == "pass"), _d.c.count), else_=0)
    rows = await tx.execute(
        sa.select(
            _d.c.source_ip,
            _d.c.disposition,
            _d.c.header_from,
            sa.func.sum(_d.c.count),
            sa.func.sum(passed),
        )
        .select_from(_d.join(_r, _r.c.id == _d.c.dmarc_report_id))
        .where(*where)
        .group_by(_d.c.source_ip, _d.c.disposition, _d.c.header_from)
    )
    found: dict[str, dict[str, Any]] = {}
    for source_ip, disposition, header_from, messages, ok in rows:
        line = found.setdefault(
            source_ip, {"messages": 0, "passed": 0, "from": set(), "dispositions": {}}
        )
        line["messages"] += int(messages)
        line["passed"] += int(ok)
        line["from"].add(header_from)
        line["dispositions"][disposition] = line["dispositions"].get(disposition, 0) + int(messages)
    lines = [
        SourceLine(
            source_ip=ip,
            messages=v["messages"],
            passed=v["passed"],
            header_from=tuple(sorted(v["from"])),
            dispositions=v["dispositions"],
        )
        for ip, v in found.items()
    ]
    return int(reports.scalar_one()), lines
