"""DMARC aggregate reports on SQLite and PostgreSQL: a Google report mailed to the bounce
receiver over SMTP is kept for the server that sends as its domain and summed by source and
disposition; the same report twice is kept once; a report for nobody's domain is refused."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from builders import make_tenant
from harness import free_port
from misiva.domain.dmarc import DomainClaim, report_owners
from misiva.domain.dns_checks import DomainCheck, RecordCheck, RecordKind, RecordStatus
from misiva.feedback.dmarc import DmarcReports
from misiva.feedback.receiver import BounceReceiver
from misiva.feedback.returned import ReturnedMail
from misiva.storage import Database
from misiva.storage import dmarc as dmarc_store
from misiva.storage import domains as domain_store

DATA = Path(__file__).resolve().parents[1] / "data" / "dmarc"
GOOGLE = DATA / "google.com!example.com!1700000000!1700086400.xml.gz"
BOUNCE_DOMAIN = "bounces.example.net"


def report_mail(
    to: str, subject: str = "Report domain: example.com Submitter: google.com"
) -> bytes:
    mail = EmailMessage()
    mail["From"] = "noreply-dmarc-support@google.com"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("This is an aggregate report from google.com.")
    mail.add_attachment(
        GOOGLE.read_bytes(), maintype="application", subtype="gzip", filename=GOOGLE.name
    )
    return mail.as_bytes()


def _send(port: int, rcpt: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("noreply-dmarc-support@google.com", [rcpt], data)


async def test_a_mailed_report_is_kept_once_and_summed_by_source(db: Database) -> None:
    shop = await make_tenant(db, "shop", "mail.example.com")
    await make_tenant(db, "other", "other.test")
    reports = DmarcReports(db)
    port = free_port()
    receiver = BounceReceiver(
        ReturnedMail(db, BOUNCE_DOMAIN, dmarc=reports), "127.0.0.1", port, "mx.test"
    )
    stop = asyncio.Event()
    running = asyncio.create_task(receiver.run(stop))
    try:
        await asyncio.sleep(0.2)
        rcpt = f"dmarc@{BOUNCE_DOMAIN}"
        await asyncio.to_thread(_send, port, rcpt, report_mail(rcpt))
        # The reporter sends it again: still one report.
        await asyncio.to_thread(_send, port, rcpt, report_mail(rcpt))
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    async with db.reading() as tx:
        total, kept = await dmarc_store.list_reports(tx, shop.server.id)
        assert (await dmarc_store.list_reports(tx, shop.server.id + 1))[0] == 0
        rows = await dmarc_store.report_rows(tx, kept[0].id)
    assert total == 1
    assert (kept[0].org_name, kept[0].domain, kept[0].messages, kept[0].passed) == (
        "google.com",
        "example.com",
        2217,
        2057,
    )
    assert len(rows) == 6
    summary = await reports.summary(shop.server.id, domain="example.com")
    assert (summary.reports, summary.messages, summary.passed, summary.failed) == (
        1,
        2217,
        2057,
        160,
    )
    assert summary.dispositions == {"none": 2177, "quarantine": 37, "reject": 3}
    assert [s.source_ip for s in summary.flagged] == ["192.0.2.200", "198.51.100.7", "198.51.100.8"]
    assert summary.sources[-1].source_ip == "209.85.220.41"


async def test_reports_are_recognised_by_their_subject_at_any_bounce_address(
    db: Database,
) -> None:
    shop = await make_tenant(db, "shop", "example.com")
    returned = ReturnedMail(db, BOUNCE_DOMAIN, dmarc=DmarcReports(db))
    handled = await returned.handle(report_mail("x@y"), [f"b+whatever@{BOUNCE_DOMAIN}"])
    assert handled.kinds == ("dmarc-report",) and handled.recorded == 1
    async with db.reading() as tx:
        assert (await dmarc_store.list_reports(tx, shop.server.id))[0] == 1


async def test_a_report_for_a_domain_no_server_has_is_refused(db: Database) -> None:
    await make_tenant(db, "shop", "shop.test")
    returned = ReturnedMail(db, BOUNCE_DOMAIN, dmarc=DmarcReports(db))
    assert returned.accepts(f"DMARC@{BOUNCE_DOMAIN}")
    handled = await returned.handle(report_mail("x"), [f"dmarc@{BOUNCE_DOMAIN}"])
    assert handled.recorded == 0
    assert "no server sends as example.com" in handled.kinds[1]


async def test_an_upload_is_kept_for_its_server_once(db: Database) -> None:
    shop = await make_tenant(db, "shop", "shop.test")
    reports = DmarcReports(db)
    first = await reports.upload(shop.server.id, GOOGLE.read_bytes())
    again = await reports.upload(shop.server.id, GOOGLE.read_bytes())
    assert first.new and not again.new
    async with db.reading() as tx:
        total, kept = await dmarc_store.list_reports(tx, shop.server.id, domain="example.com")
        assert await dmarc_store.report_domains(tx, shop.server.id) == ["example.com"]
    assert total == 1 and kept[0].source.value == "upload"


async def test_a_domain_claimed_by_another_tenant_does_not_get_its_reports(db: Database) -> None:
    """Any server may add any name; the reports go to whoever proved it by DKIM, else to the
    server that added it first, never to a later tenant that merely typed the name."""
    owner = await make_tenant(db, "owner", "example.com")
    intruder = await make_tenant(db, "intruder", "example.com")
    returned = ReturnedMail(db, BOUNCE_DOMAIN, dmarc=DmarcReports(db))
    await returned.handle(report_mail("x"), [f"dmarc@{BOUNCE_DOMAIN}"])
    async with db.reading() as tx:
        assert (await dmarc_store.list_reports(tx, owner.server.id))[0] == 1
        assert (await dmarc_store.list_reports(tx, intruder.server.id))[0] == 0

    # Once the owner's DKIM record is found in DNS, only verified servers get reports, so a
    # second tenant of the same company gets them too once it publishes its own key.
    dkim = RecordCheck(
        RecordKind.DKIM, "sel._domainkey.example.com", "TXT", "v=DKIM1", ("v=DKIM1",),
        RecordStatus.PASS,
    )  # fmt: skip
    async with db.transaction() as tx:
        await domain_store.save_check(
            tx, intruder.domain.id, DomainCheck(datetime(2026, 1, 1, tzinfo=UTC), (dkim,))
        )
    claims = await _claims(db)
    assert report_owners(claims) == (intruder.server.id,)


async def _claims(db: Database) -> list[DomainClaim]:
    async with db.reading() as tx:
        return await dmarc_store.domain_claims(tx, "example.com")
