"""DMARC aggregate report files: a real-format Google report read whole, the three file
kinds, and every kind of bad input refused with a clear reason (never a crash, never a bomb)."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from misiva.bounces.dmarc_files import report_attachments, report_xml
from misiva.bounces.dmarc_xml import parse_report
from misiva.domain.dmarc import MAX_FILE_BYTES, MAX_XML_BYTES, BadReport, ReportTooLarge
from misiva.feedback.dmarc import read_report

DATA = Path(__file__).resolve().parents[1] / "data" / "dmarc"
GOOGLE = DATA / "google.com!example.com!1700000000!1700086400.xml.gz"


def google_xml() -> bytes:
    return gzip.decompress(GOOGLE.read_bytes())


def test_a_google_report_is_read_whole() -> None:
    report = read_report(GOOGLE.read_bytes())
    assert report.org_name == "google.com"
    assert report.org_email == "noreply-dmarc-support@google.com"
    assert report.report_id == "13627340581925479362"
    assert report.begin == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert report.end == datetime(2023, 11, 15, 22, 13, 19, tzinfo=UTC)
    assert report.policy.domain == "example.com"
    assert (report.policy.p, report.policy.sp, report.policy.pct) == (
        "quarantine",
        "quarantine",
        100,
    )
    assert len(report.rows) == 6
    assert report.messages == 2217
    assert report.passed == 1840 + 212 + 5
    crm = next(r for r in report.rows if r.source_ip == "192.0.2.200")
    # DKIM passed for the vendor's own domain: not aligned with example.com, so DMARC fails.
    assert not crm.passed
    assert [(a.method, a.domain, a.result) for a in crm.auth] == [
        ("dkim", "crm-vendor.example", "pass"),
        ("spf", "crm-vendor.example", "pass"),
    ]
    ipv6 = next(r for r in report.rows if r.source_ip == "2001:db8::25")
    assert ipv6.passed and ipv6.dkim == "pass" and ipv6.spf == "fail"


def test_plain_xml_gzip_and_zip_give_the_same_report() -> None:
    xml = google_xml()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("google.com!example.com!1700000000!1700086400.xml", xml)
    plain = read_report(xml)
    assert read_report(GOOGLE.read_bytes()) == plain
    assert read_report(packed.getvalue()) == plain


def test_a_namespaced_dmarcbis_report_reads_too() -> None:
    xml = google_xml().replace(
        b"<feedback>", b'<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">'
    )
    assert parse_report(xml).messages == 2217


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 not a report", "neither XML nor a gzip or zip"),
        (b"<feedback><report_metadata>", "not well-formed"),
        (b"<html><body>hello</body></html>", "no <feedback>"),
        (b"<feedback><report_metadata/></feedback>", "no <date_range>"),
        (gzip.compress(b"<feedback>")[:-6], "cut short"),
        (b"PK\x03\x04 not really a zip", "zip file cannot be read"),
    ],
)
def test_bad_files_are_refused_with_their_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BadReport) as refused:
        read_report(data)
    assert reason in refused.value.message


def test_entities_and_dtds_are_refused() -> None:
    # The billion laughs: a few hundred bytes that a naive parser expands to gigabytes.
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feedback>&lol3;</feedback>"""
    external = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><feedback>&xxe;</feedback>"""
    for xml in (laughs, external):
        with pytest.raises(BadReport, match="refused"):
            read_report(xml)


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    # About 50 KB that would inflate to 50 MB: stopped once past the limit, not inflated.
    bomb = gzip.compress(b"<" + b" " * (MAX_XML_BYTES * 2))
    assert len(bomb) < MAX_FILE_BYTES // 100
    with pytest.raises(ReportTooLarge, match="decompresses to more than 25 MB"):
        report_xml(bomb)


def test_a_zip_bomb_stops_at_the_limit_even_when_its_directory_lies() -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.xml", b"<" + b" " * (MAX_XML_BYTES * 2))
    honest = packed.getvalue()
    with pytest.raises(ReportTooLarge):
        report_xml(honest)
    # The same archive claiming a tiny size in its central directory.
    size = (MAX_XML_BYTES * 2 + 1).to_bytes(4, "little")
    lying = honest.replace(size, (100).to_bytes(4, "little"))
    assert lying != honest
    with pytest.raises((ReportTooLarge, BadReport)):
        report_xml(lying)


def test_an_oversized_file_is_refused_before_reading() -> None:
    with pytest.raises(ReportTooLarge, match="over 10 MB"):
        report_xml(b"<" + b" " * MAX_FILE_BYTES)


def test_report_files_are_found_among_a_mails_parts() -> None:
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = "noreply-dmarc-support@google.com"
    mail["To"] = "dmarc@bounces.example.net"
    mail["Subject"] = "Report domain: example.com Submitter: google.com Report-ID: 1362"
    mail.set_content("This is an aggregate report from google.com.")
    mail.add_attachment(
        GOOGLE.read_bytes(),
        maintype="application",
        subtype="gzip",
        filename=GOOGLE.name,
    )
    found = report_attachments(mail.as_bytes())
    assert found == [(GOOGLE.name, GOOGLE.read_bytes())]
