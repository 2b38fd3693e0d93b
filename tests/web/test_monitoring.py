"""Sending health in Debian's Chromium: an open alert shows as a banner on every page of its
server and is listed on the alerts page; a developer uploads a Google DMARC report, sees its
sources with the ones that send as the domain without passing flagged, and the same file
again is stored once; the marketer reads but has no upload form."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from misiva.domain.alerts import WINDOWS, AlertLevel, AlertMetric, AlertScope, Measurement
from misiva.storage import Database
from misiva.storage import alerts as alert_store
from misiva.storage import servers as server_store
from ui_harness import UI, sign_in

pytestmark = pytest.mark.slow
GOOGLE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "dmarc"
    / "google.com!example.com!1700000000!1700086400.xml.gz"
)


async def _open_alert(ui: UI) -> int:
    db = Database(ui.misiva.env["MISIVA_DATABASE_URL"])
    try:
        async with db.transaction() as tx:
            server = await server_store.find_server_by_name(tx, "shop")
            assert server is not None
            measured = Measurement(
                AlertMetric.COMPLAINT_RATE, AlertScope.PROVIDER, "google", WINDOWS[1], 0.004, 5000
            )
            await alert_store.insert_alert(
                tx, server.id, measured, AlertLevel.DANGER, 0.003, datetime.now(UTC)
            )
        return server.id
    finally:
        await db.close()


async def test_an_open_alert_shows_on_every_server_page(browser: Any, ui: UI) -> None:
    server_id = await _open_alert(ui)
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    base = f"{ui.url}/ui/servers/{server_id}"
    for section in ("dashboard", "messages", "templates"):
        await page.goto(f"{base}/{section}")
        banner = page.get_by_role("alert", name="Sending alerts")
        assert "Sending alerts open: 1" in await banner.inner_text()
        # The value is the latest measured: the scheduler may already have found this
        # made-up alert's hour quiet (0%); what it is about stays.
        text = await banner.inner_text()
        assert "danger: complaint rate" in text and "(threshold 0.30%) on provider google" in text
    await page.get_by_role("link", name="See the alerts").click()
    await page.wait_for_url("**/alerts")
    table = await page.locator("table.alerts").first.inner_text()
    assert "Complaint rate" in table and "Provider: google" in table and "Danger" in table
    assert await page.get_by_role("heading", name="Sender requirements").count() == 1
    # A marketer may read the levels but not change them.
    assert await page.get_by_role("button", name="Save the levels").count() == 0


async def test_a_developer_uploads_a_dmarc_report_once(
    browser: Any, ui: UI, tmp_path: Path
) -> None:
    page = await sign_in(browser, ui, "dev@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").first.click()
    await page.get_by_role("link", name="DMARC reports").click()
    await page.wait_for_url("**/dmarc")
    await page.get_by_label("Report file (.xml, .xml.gz or .zip)").set_input_files(str(GOOGLE))
    await page.get_by_role("button", name="Upload").click()
    await page.wait_for_url("**/dmarc?done=uploaded")
    assert "The report was stored." in await page.get_by_role("status").inner_text()
    sources = await page.locator("table.sources").inner_text()
    assert "203.0.113.25" in sources
    flagged = page.locator("table.sources tr.flagged")
    assert await flagged.count() == 3
    assert "Sends as your domain without passing" in await flagged.first.inner_text()
    assert "Pass DMARC: 2057" in await page.locator("main").inner_text()
    await page.get_by_label("Report file (.xml, .xml.gz or .zip)").set_input_files(str(GOOGLE))
    await page.get_by_role("button", name="Upload").click()
    await page.wait_for_url("**/dmarc?done=duplicate")
    assert await page.locator("table.reports tr").count() == 2  # the header and one report
    # Not a report: refused with its reason, nothing stored.
    bad = tmp_path / "not-a-report.xml"
    bad.write_text("hello")
    await page.get_by_label("Report file (.xml, .xml.gz or .zip)").set_input_files(str(bad))
    await page.get_by_role("button", name="Upload").click()
    assert "neither XML nor a gzip or zip" in await page.get_by_role("alert").last.inner_text()


async def test_a_marketer_reads_dmarc_reports_without_uploading(browser: Any, ui: UI) -> None:
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").first.click()
    await page.get_by_role("link", name="DMARC reports").click()
    await page.wait_for_url("**/dmarc")
    assert await page.get_by_role("button", name="Upload").count() == 0
    assert "No report yet." in await page.locator("main").inner_text()
