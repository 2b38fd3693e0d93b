"""The template studio in Debian's Chromium: a marketer edits a template beside its live
preview, saves a draft, publishes it, sends a test and follows it to its timeline, compares
versions and rolls back; a viewer may look but not save."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from ui_harness import PASSWORD, UI, sign_in

pytestmark = pytest.mark.slow

RECEIPT = {
    "Name": "Order receipt",
    "Alias": "receipt",
    "Subject": "Your order {{ order.number }}",
    "HtmlBody": "<h1>Thanks for order {{ order.number }}</h1>",
    "TextBody": "Thanks for order {{ order.number }}",
}


def _create(ui: UI) -> int:
    created = httpx.post(
        ui.url + "/templates",
        headers={"X-Postmark-Server-Token": ui.tokens["shop"], "Accept": "application/json"},
        json=RECEIPT,
    )
    assert created.status_code == 200, created.text
    template_id: int = created.json()["TemplateId"]
    return template_id


def _published_subject(ui: UI) -> str:
    found = httpx.get(
        ui.url + "/templates/receipt",
        headers={"X-Postmark-Server-Token": ui.tokens["shop"], "Accept": "application/json"},
    )
    subject: str = found.json()["Subject"]
    return subject


async def test_a_marketer_edits_publishes_tests_and_rolls_back_a_template(
    browser: Any, ui: UI
) -> None:
    template_id = _create(ui)
    page = await sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").click()
    await page.locator("nav.server").get_by_role("link", name="Templates").click()
    await page.get_by_label("Name or alias").fill("RECEIPT")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="Order receipt").click()
    await page.wait_for_url(f"**/templates/{template_id}")
    editor_url = page.url

    # No test data yet: the variables panel says what is lacking, at which line.
    result = page.locator("#studio-result")
    await expect(result.locator(".studio-missing")).to_contain_text("order.number")
    await expect(result).to_contain_text("line 1")
    # Typing test data re-renders the preview beside the editor, without saving.
    await page.get_by_label("Test data (JSON)").fill('{"order": {"number": "A-7"}}')
    frame = page.locator("#preview-frame")
    await expect(frame).to_have_attribute("srcdoc", re.compile("Thanks for order A-7"))
    await expect(frame).to_have_attribute("sandbox", "")
    await expect(result).to_contain_text("every variable the template needs")
    await page.get_by_label("Subject", exact=True).fill("Order {{ order.number }} is on its way")
    await page.get_by_label("HTML", exact=True).fill("<h1>On its way: {{ order.number }}</h1>")
    await expect(frame).to_have_attribute("srcdoc", re.compile("On its way: A-7"))
    await expect(page.locator("#preview-subject")).to_have_text("Order A-7 is on its way")
    # Widths and dark mode are the frame's, chosen beside it.
    await page.get_by_label("Mobile (375 px)").check()
    assert await frame.evaluate("f => f.getBoundingClientRect().width") == 375
    await page.get_by_label("Dark").check()
    assert await frame.evaluate("f => getComputedStyle(f).colorScheme") == "dark"
    assert _published_subject(ui) == RECEIPT["Subject"]

    await page.get_by_role("button", name="Save draft").click()
    await expect(page.get_by_role("status").first).to_contain_text("Saved as version 2")
    # A draft changes nothing that is sent.
    assert _published_subject(ui) == RECEIPT["Subject"]
    await page.get_by_role("button", name="Publish version 2").click()
    await expect(page.locator(".studio-status")).to_contain_text("Sends use version 2")
    assert _published_subject(ui) == "Order {{ order.number }} is on its way"

    await page.get_by_label("To", exact=True).fill("tester@example.com")
    await page.get_by_role("button", name="Send test").click()
    await page.get_by_role("link", name="see the test message and its timeline").click()
    await page.wait_for_url("**/ui/messages/*")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "[Test] Order A-7 is on its way"
    )
    timeline = page.locator("ol.timeline")
    assert "Queued" in await timeline.inner_text()
    for _ in range(50):
        if "Delivered" in await timeline.inner_text():
            break
        await page.wait_for_timeout(200)
        await page.reload()
    assert "Delivered" in await timeline.inner_text()

    await page.goto(editor_url)
    await page.get_by_role("button", name="Roll back to version 1").click()
    await expect(page.locator(".studio-status")).to_contain_text("Sends use version 1")
    assert _published_subject(ui) == RECEIPT["Subject"]
    await page.get_by_label("Compare version").select_option("1")
    await page.get_by_label("with version").select_option("2")
    await page.get_by_role("button", name="Compare").click()
    diff = page.locator(".studio-diff")
    await expect(diff.locator(".del").first).to_have_text("-Your order {{ order.number }}")
    await expect(diff.locator(".add").first).to_have_text("+Order {{ order.number }} is on its way")

    # And the plumbing stays out of a marketer's reach: no API tokens link, and the page is 403.
    menu = page.locator("nav.server")
    await expect(menu.get_by_role("link", name="Templates")).to_be_visible()
    assert await menu.get_by_role("link", name="API tokens").count() == 0
    tokens_url = editor_url.split("/templates/")[0] + "/tokens"
    response = await page.goto(tokens_url)
    assert response is not None and response.status == 403
    assert ui.tokens["shop"] not in await page.content()


async def test_a_viewer_sees_the_studio_but_saving_is_refused(browser: Any, ui: UI) -> None:
    template_id = _create(ui)
    ui.misiva.cli(
        "users",
        "create",
        "vera@shop.test",
        "--role",
        "viewer",
        "--server=shop",
        "--password-stdin",
        stdin=PASSWORD,
    )
    page = await sign_in(browser, ui, "vera@shop.test")
    await page.wait_for_url("**/ui")
    await page.get_by_role("link", name="Activity").click()
    await page.locator("nav.server").get_by_role("link", name="Templates").click()
    await page.get_by_role("link", name="Order receipt").click()
    await page.wait_for_url(f"**/templates/{template_id}")
    editor = page.url
    assert await page.get_by_role("button", name="Preview", exact=True).is_visible()
    assert await page.get_by_role("button", name="Save draft").count() == 0
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await page.request.post(
        editor,
        form={"csrf": csrf or "", "action": "save", "variant": "default", "subject": "Hacked"},
    )
    assert refused.status == 403
    assert _published_subject(ui) == RECEIPT["Subject"]
