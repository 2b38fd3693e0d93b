"""The HTTP door of DMARC reports, alerts and sender requirements, in-process over SQLite and
PostgreSQL: a Google report file uploaded, stored once and summed; bad files answered with
clear errors; alerts listed; thresholds set; each requirement per domain and stream."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx

from builders import Tenant
from misiva.domain.dmarc import MAX_FILE_BYTES, MAX_XML_BYTES

GOOGLE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "dmarc"
    / "google.com!example.com!1700000000!1700086400.xml.gz"
)


async def test_a_report_file_is_uploaded_once_and_summed(api: httpx.AsyncClient) -> None:
    first = await api.post(
        "/dmarc/reports", content=GOOGLE.read_bytes(), headers={"Content-Type": "application/gzip"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["Stored"] is True
    assert (first.json()["Messages"], first.json()["Failed"]) == (2217, 160)
    again = await api.post("/dmarc/reports", content=GOOGLE.read_bytes())
    assert again.status_code == 200 and again.json()["Message"] == "Already stored"

    listed = (await api.get("/dmarc/reports")).json()
    assert listed["TotalCount"] == 1
    report = listed["Reports"][0]
    assert (report["OrgName"], report["Domain"], report["Policy"]["p"]) == (
        "google.com",
        "example.com",
        "quarantine",
    )
    one = (await api.get(f"/dmarc/reports/{report['ID']}")).json()
    assert len(one["Records"]) == 6 and one["Records"][0]["SourceIP"] == "203.0.113.25"

    summary = (await api.get("/dmarc/summary", params={"days": 3660})).json()
    assert (summary["Messages"], summary["Passed"], summary["Failed"]) == (2217, 2057, 160)
    assert summary["Dispositions"] == {"none": 2177, "quarantine": 37, "reject": 3}
    flagged = [s["SourceIP"] for s in summary["Sources"] if s["Flagged"]]
    assert flagged == ["192.0.2.200", "198.51.100.7", "198.51.100.8"]


async def test_bad_report_files_get_clear_errors(api: httpx.AsyncClient) -> None:
    not_xml = await api.post("/dmarc/reports", content=b"hello, this is not a report")
    assert not_xml.status_code == 422
    assert "neither XML nor a gzip or zip" in not_xml.json()["Message"]
    bomb = await api.post(
        "/dmarc/reports", content=gzip.compress(b"<" + b" " * (MAX_XML_BYTES + 1024))
    )
    assert bomb.status_code == 413
    assert "decompresses to more than" in bomb.json()["Message"]
    huge = await api.post("/dmarc/reports", content=b"<" * (MAX_FILE_BYTES + 1))
    assert huge.status_code == 413 and "over 10 MB" in huge.json()["Message"]
    assert (await api.get("/dmarc/reports")).json()["TotalCount"] == 0


async def test_alerts_thresholds_and_sender_requirements(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (await api.get("/alerts", params={"state": "open"})).json() == {
        "TotalCount": 0,
        "Alerts": [],
    }
    assert (await api.get("/alerts", params={"state": "maybe"})).status_code == 422
    levels = (await api.get("/alerts/thresholds")).json()["Thresholds"]
    assert {t["Metric"]: t["Danger"] for t in levels}["complaint_rate"] == 0.003
    put = await api.put(
        "/alerts/thresholds/bounce_rate", json={"Warning": 0.02, "Danger": 0.04, "MinVolume": 10}
    )
    assert put.status_code == 200
    levels = (await api.get("/alerts/thresholds")).json()["Thresholds"]
    assert levels[0] == {"Metric": "bounce_rate", "Warning": 0.02, "Danger": 0.04, "MinVolume": 10}
    bad = await api.put("/alerts/thresholds/bounce_rate", json={"Warning": 0.5, "Danger": 0.1})
    assert bad.status_code == 422

    lines = (await api.get("/sender-requirements")).json()["Domains"]
    by_stream = {line["MessageStream"]: line for line in lines}
    assert {line["Domain"] for line in lines} == {tenant.domain.name}
    outbound = {r["Requirement"]: r["Verdict"] for r in by_stream["outbound"]["Requirements"]}
    # Never checked against the DNS yet, nothing delivered: unknown, not failed.
    assert outbound == {
        "spf": "unknown",
        "dkim": "unknown",
        "dmarc": "unknown",
        "alignment": "unknown",
        "one-click-unsubscribe": "not-applicable",
        "complaint-rate": "unknown",
    }
    commercial = [line for line in lines if line["MessageStreamType"] == "Broadcasts"]
    for line in commercial:
        verdicts = {r["Requirement"]: r["Verdict"] for r in line["Requirements"]}
        assert verdicts["one-click-unsubscribe"] in ("met", "not-met")
