"""Automation in Chromium, the issue's Done-when: a marketer creates, through the UI, a rule
for `request.received` with a two-day reminder; a posted event fires it, and the marketer
sees on the event's page that the rule fired and a message is scheduled two days ahead, and
finds it among the scheduled messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from automation_setup import REMINDER
from ui_harness import UI
from ui_harness import sign_in as browser_sign_in


async def test_a_marketer_creates_a_two_day_reminder_in_the_browser_and_an_event_fires_it(
    browser: Any, ui: UI
) -> None:
    headers = {"X-Postmark-Server-Token": ui.tokens["shop"], "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=ui.url, headers=headers) as api:
        assert (await api.post("/templates", json=REMINDER)).status_code == 200
        page = await browser_sign_in(browser, ui, "marta@shop.test")
        await page.wait_for_url("**/ui")
        await page.get_by_role("link", name="Activity").first.click()
        await page.get_by_role("link", name="Automation", exact=True).click()
        await page.get_by_role("link", name="New rule").click()
        await page.get_by_label("Key").fill("info-reminder")
        await page.get_by_label("Description").fill("A reminder two days after a request")
        await page.get_by_label("Event name").fill("request.received")
        await page.get_by_label("Template").select_option("reminder")
        await page.get_by_label("From", exact=True).fill("hola@shop.test")
        await page.get_by_label("Delay", exact=True).fill("2")
        await page.get_by_label("Unit", exact=True).select_option("days")
        await page.get_by_label("Cancelled by these events (optional)").fill("request.answered")
        await page.get_by_role("button", name="Create the rule").click()
        await page.wait_for_url("**/automation/rules/info-reminder?done=created*")
        assert "created" in await page.get_by_role("status").inner_text()

        posted = await api.post(
            "/events",
            json={"Name": "request.received", "Email": "ana@example.com", "EventID": "req-1"},
        )
        assert posted.status_code == 200, posted.text
        [fired] = posted.json()["Rules"]
        assert (fired["TriggerKey"], fired["Outcome"]) == ("info-reminder", "scheduled")
    expected = datetime.now(UTC) + timedelta(days=2)

    await page.get_by_role("link", name="Recent events").click()
    row = page.locator('tr[data-event="req-1"]')
    assert "1 fired" in await row.inner_text()
    await row.get_by_role("link").click()
    await page.wait_for_url("**/automation/events/req-1")
    outcome = await page.locator('tr[data-rule="info-reminder"]').inner_text()
    assert "fired" in outcome
    message = await page.locator("table.auto-messages tr[data-message]").inner_text()
    assert "info-reminder" in message and "scheduled" in message
    send_at = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", message)
    assert send_at is not None
    when = datetime.strptime(send_at.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert abs(when - expected) < timedelta(minutes=5)

    await page.get_by_role("link", name="Scheduled messages").click()
    listed = await page.locator(f'tr[data-message="{fired["ScheduledMessageID"]}"]').inner_text()
    assert "ana@example.com" in listed and "reminder" in listed and "scheduled" in listed
