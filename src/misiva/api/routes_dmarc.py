"""DMARC aggregate reports (Misiva's own API): upload a report file, list the kept reports,
read one with its records, and the summary by source and disposition."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import RowId
from misiva.api.responses import JSONResponse
from misiva.domain.dmarc import (
    MAX_FILE_BYTES,
    DmarcRow,
    DmarcSummary,
    ReportTooLarge,
    StoredReport,
)
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.feedback.dmarc import DmarcReports
from misiva.storage import dmarc as dmarc_store

router = APIRouter(tags=["DMARC reports"])
_FILE = {
    "content": {
        "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string", "format": "binary"}},
    },
    "required": True,
}


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def report_json(report: StoredReport) -> dict[str, Any]:
    return {
        "ID": report.id,
        "OrgName": report.org_name,
        "OrgEmail": report.org_email,
        "ReportID": report.report_id,
        "Domain": report.domain,
        "Begin": report.begin.isoformat(),
        "End": report.end.isoformat(),
        "Policy": report.policy,
        "Messages": report.messages,
        "Passed": report.passed,
        "Failed": report.failed,
        "Source": report.source.value,
        "ReceivedAt": report.received_at.isoformat(),
    }


def row_json(row: DmarcRow) -> dict[str, Any]:
    return {
        "SourceIP": row.source_ip,
        "Count": row.count,
        "Disposition": row.disposition.value,
        "DKIM": row.dkim,
        "SPF": row.spf,
        "Passed": row.passed,
        "HeaderFrom": row.header_from,
        "EnvelopeFrom": row.envelope_from,
        "AuthResults": [
            {"Method": a.method, "Domain": a.domain, "Result": a.result, "Selector": a.selector}
            for a in row.auth
        ],
    }


def summary_json(summary: DmarcSummary) -> dict[str, Any]:
    return {
        "Reports": summary.reports,
        "Messages": summary.messages,
        "Passed": summary.passed,
        "Failed": summary.failed,
        "Dispositions": summary.dispositions,
        "Sources": [
            {
                "SourceIP": s.source_ip,
                "Messages": s.messages,
                "Passed": s.passed,
                "Failed": s.failed,
                "HeaderFrom": list(s.header_from),
                "Dispositions": s.dispositions,
                "Flagged": s.flagged,
            }
            for s in summary.sources
        ],
    }


async def _file(request: Request) -> bytes:
    """The body, refused past the limit before it is all read."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FILE_BYTES:
        raise ReportTooLarge(f"The report file is over {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FILE_BYTES:
            raise ReportTooLarge(f"The report file is over {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    return bytes(body)


@router.post(
    "/dmarc/reports",
    openapi_extra={"requestBody": _FILE},
    summary="Upload a DMARC aggregate report (XML, .xml.gz or .zip, as the body)",
)
async def upload_report(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    ingested = await DmarcReports(deps_of(request).db).upload(_server_id(who), await _file(request))
    report = ingested.report
    return JSONResponse(
        {
            "ErrorCode": 0,
            "Message": "Stored" if ingested.new else "Already stored",
            "Stored": ingested.new,
            "OrgName": report.org_name,
            "ReportID": report.report_id,
            "Domain": report.policy.domain,
            "Begin": report.begin.isoformat(),
            "End": report.end.isoformat(),
            "Messages": report.messages,
            "Passed": report.passed,
            "Failed": report.messages - report.passed,
        },
        status_code=201 if ingested.new else 200,
    )


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name, str(default))
    # isascii: str.isdigit() accepts "²", which int() refuses (a 500, found by tests/fuzz).
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise InvalidRequest(f"{name} must be a number from {low} to {high}.")
    return int(value)


@router.get("/dmarc/reports", summary="DMARC reports kept, the latest period first")
async def list_reports(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    count = _int(request, "count", 50, 1, 500)
    offset = _int(request, "offset", 0, 0, 100_000)
    domain = request.query_params.get("domain") or None
    async with deps_of(request).db.reading() as tx:
        total, found = await dmarc_store.list_reports(
            tx, _server_id(who), domain=domain, limit=count, offset=offset
        )
    return JSONResponse({"TotalCount": total, "Reports": [report_json(r) for r in found]})


@router.get("/dmarc/reports/{report_id}", summary="One DMARC report with its records")
async def get_report(
    request: Request, report_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    async with deps_of(request).db.reading() as tx:
        report = await dmarc_store.get_report(tx, _server_id(who), report_id)
        rows = await dmarc_store.report_rows(tx, report_id) if report else []
    if report is None:
        raise NotFound("The DMARC report was not found.")
    return JSONResponse({**report_json(report), "Records": [row_json(r) for r in rows]})


@router.get(
    "/dmarc/summary",
    summary="Pass and fail by source IP and by disposition; flagged sources send as the "
    "domain without an aligned DKIM or SPF pass",
)
async def summary(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    days = _int(request, "days", 30, 1, 3660)
    deps = deps_of(request)
    found = await DmarcReports(deps.db).summary(
        _server_id(who),
        domain=request.query_params.get("domain") or None,
        since=deps.clock() - timedelta(days=days),
    )
    return JSONResponse(summary_json(found))
