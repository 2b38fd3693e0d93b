"""The content block pages: through the app as `misiva serve` builds it on both databases (the
list by slot, the editor's save with the service's errors shown and the input kept, edit and
delete, the preview against a contact, the rule tester, roles and servers), and in Chromium a
marketer's whole round."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from html import unescape
from typing import Any

import httpx
import pytest

from builders import T0, make_tenant
from misiva.accounts.audit import recent
from misiva.accounts.contacts import upsert_contact
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.authoring.content_blocks import ContentBlocks
from misiva.config import Settings
from misiva.domain.content_blocks import BlockContent, BlockVariant, ContentBlock, NewContentBlock
from misiva.domain.errors import NotFound
from misiva.domain.users import Role
from misiva.runtime.wiring import build_platform
from misiva.storage import Database
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui
from ui_harness import UI
from ui_harness import sign_in as browser_sign_in

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    client: httpx.AsyncClient
    db: Database
    server_id: int
    other_id: int
    csrf: str = ""

    async def as_user(self, email: str) -> httpx.AsyncClient:
        signed = await sign_in(self.db, email, PASSWORD, clock=lambda: T0)
        assert signed is not None
        self.client.cookies.set(SESSION_COOKIE, signed[0])
        self.csrf = signed[1].csrf_token
        return self.client

    @property
    def blocks(self) -> str:
        return f"/ui/servers/{self.server_id}/offers/blocks"

    async def post(self, url: str, **fields: str) -> httpx.Response:
        return await self.client.post(url, data={"csrf": self.csrf, **fields})


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    web = replace(platform.web_deps(), clock=lambda: T0)
    app = mount_ui(create_app(platform.api_deps()), web)
    shop = await make_tenant(platform.db, "shop", "shop.test")
    other = await make_tenant(platform.db, "other", "other.test")
    for email, role, servers in (
        ("marta@shop.test", Role.MARKETER, ("shop",)),
        ("vera@shop.test", Role.VIEWER, ("shop",)),
        ("otto@other.test", Role.MARKETER, ("other",)),
    ):
        await create_user(platform.db, email, PASSWORD, role, server_names=servers)
    for fields in (
        {"Email": "ana@example.com", "FirstName": "Ana", "Country": "ES", "Locale": "es"},
        {"Email": "bob@example.com", "FirstName": "Bob", "Country": "GB", "Locale": "en-GB"},
        {"Email": "eva@example.com", "FirstName": "Eva", "Country": "ES", "Plan": "gold"},
    ):
        await upsert_contact(platform.db, shop.server.id, fields, clock=lambda: T0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield Site(client, platform.db, shop.server.id, other.server.id)
    await platform.db.close()


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _form(**changes: str) -> dict[str, str]:
    """The editor's fields for a block of two A/B variants, Spanish and default content."""
    fields = {
        "key": "mug",
        "slot": "cross_sell",
        "rule": "contact.country == 'ES'",
        "priority": "5",
        "starts": "",
        "ends": "",
        "variant-0-name": "A",
        "variant-0-split": "50",
        "variant-0-locale-0": "es",
        "variant-0-format-0": "html",
        "variant-0-body-0": "<p>Hola {{ contact.first_name }}: {{ promo_code('TAZA') }}</p>",
        "variant-0-locale-1": "",
        "variant-0-body-1": "",
        "variant-1-name": "B",
        "variant-1-split": "50",
        "variant-1-locale-0": "default",
        "variant-1-format-0": "html",
        "variant-1-body-0": "<p>Hi {{ contact.first_name }}, "
        "<a href='https://shop.test/mug'>a mug</a></p>",
        # The spare variant row, left empty.
        "variant-2-name": "",
        "variant-2-split": "",
        "variant-2-locale-0": "",
        "variant-2-body-0": "",
    }
    fields.update(changes)
    return fields


async def _block(site: Site, key: str, server_id: int | None = None, **kw: Any) -> ContentBlock:
    fields: dict[str, Any] = {
        "key": key,
        "slot": "cross_sell",
        "variants": (BlockVariant("A", 100, {"default": BlockContent(f"<p>{key}</p>")}),),
    }
    fields.update(kw)
    service = ContentBlocks(site.db, clock=lambda: T0)
    return await service.create(server_id or site.server_id, NewContentBlock(**fields))


async def test_a_marketer_creates_a_block_and_sees_it_in_its_slot(site: Site) -> None:
    await site.as_user("marta@shop.test")
    new = await site.client.get(site.blocks + "/new")
    assert new.status_code == 200 and 'name="variant-0-name" type="text" value="A"' in new.text
    saved = await site.post(site.blocks + "/new", action="save", **_form())
    assert saved.status_code == 303, saved.text
    assert re.search(r"/offers/blocks/\d+\?done=created$", saved.headers["location"])
    page = await site.client.get(saved.headers["location"])
    assert "The block was created." in page.text
    assert 'value="mug"' in page.text and "Hola {{ contact.first_name }}" in unescape(page.text)
    await _block(site, "later", priority=9, starts_at=T0.replace(year=2027))
    await _block(site, "over", slot="footer", ends_at=T0.replace(year=2025))
    listed = _text((await site.client.get(site.blocks)).text)
    assert "Slot cross_sell" in listed and "Slot footer" in listed
    # By slot, highest priority first, each with its schedule in words, rule and splits.
    assert re.search(r"9 later scheduled from 2027-11-22 12:00 UTC everyone A 100%", listed)
    assert re.search(
        r"5 mug running contact.country == 'ES' A 50% \(es\) B 50% \(default\)", listed
    )
    assert "over ended until 2025-11-22 12:00 UTC" in listed
    entries = await recent(site.db, server_id=site.server_id)
    created = [e.entry for e in entries if e.entry.action == "block.create"]
    assert (
        created and created[0].target == "mug" and created[0].details["variants"] == "A 50%, B 50%"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rule": "contact.country =="}, "The audience rule does not compile"),
        ({"variant-1-split": "40"}, "splits must add up to 100 percent"),
        ({"variant-1-body-0": "<p>{% if %}</p>"}, "Variant &#39;B&#39; (default), line 1"),
        ({"priority": "high"}, "The priority must be a whole number."),
        ({"variant-0-locale-0": "not a locale"}, "A locale is a language tag"),
    ],
)
async def test_a_refused_save_says_why_and_keeps_what_was_typed(
    site: Site, changes: dict[str, str], message: str
) -> None:
    await site.as_user("marta@shop.test")
    refused = await site.post(site.blocks + "/new", action="save", **_form(**changes))
    assert refused.status_code == 422
    assert message in refused.text
    for value in changes.values():
        assert value in unescape(refused.text)
    assert await ContentBlocks(site.db).list(site.server_id) == []


async def test_a_block_is_changed_then_deleted_after_confirming(site: Site) -> None:
    block = await _block(site, "mug")
    url = f"{site.blocks}/{block.id}"
    await site.as_user("marta@shop.test")
    page = await site.client.get(url)
    assert page.status_code == 200 and "Delete this block" in page.text
    saved = await site.post(url, action="save", **_form(key="mug", priority="7"))
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    changed = await ContentBlocks(site.db).get(site.server_id, block.id)
    assert changed.priority == 7 and [v.name for v in changed.variants] == ["A", "B"]
    assert changed.rule == "contact.country == 'ES'"
    unconfirmed = await site.post(url + "/delete")
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"] == url
    assert await ContentBlocks(site.db).get(site.server_id, block.id)
    deleted = await site.post(url + "/delete", confirm="yes")
    assert deleted.status_code == 303
    assert "The block was deleted." in (await site.client.get(deleted.headers["location"])).text
    with pytest.raises(NotFound):
        await ContentBlocks(site.db).get(site.server_id, block.id)
    assert (await site.client.get(url)).status_code == 404
    actions = [e.entry.action for e in await recent(site.db, server_id=site.server_id)]
    assert actions[:2] == ["block.delete", "block.update"]


async def test_the_preview_renders_the_variant_for_a_contact_without_giving_a_code(
    site: Site,
) -> None:
    await site.as_user("marta@shop.test")
    shown = await site.post(
        site.blocks + "/new", action="preview", email="ana@example.com", variant="A", **_form()
    )
    assert shown.status_code == 200
    frame = re.search(r'<iframe id="preview-frame"[^>]*sandbox=""[^>]*srcdoc="([^"]*)"', shown.text)
    assert frame is not None
    html = unescape(frame.group(1))
    # As the slot gets it: the contact's data, a placeholder code, the block's comments.
    assert "<p>Hola Ana: TAZA-PREVIEW</p>" in html and "<!--misiva-block-->" in html
    assert "variant A, locale es" in _text(shown.text)
    # B for Bob, in the default content (his en-GB has none of its own); links are marked.
    shown = await site.post(
        site.blocks + "/new", action="preview", email="bob@example.com", variant="B", **_form()
    )
    html = unescape(re.findall(r'srcdoc="([^"]*)"', shown.text)[0])
    assert "Hi Bob," in html and "misiva_block=0.B" in html
    assert "The rule does not match this contact and model" in shown.text
    # A variant with no content for the reader: said, not rendered.
    shown = await site.post(
        site.blocks + "/new", action="preview", email="bob@example.com", variant="A", **_form()
    )
    assert "has no content for &#39;en-GB&#39;" in shown.text and "srcdoc" not in shown.text
    lacking = await site.post(
        site.blocks + "/new",
        action="preview",
        email="ana@example.com",
        variant="B",
        **_form(**{"variant-1-body-0": "<p>{{ order.total }}</p>"}),
    )
    assert "The block reads order" in lacking.text
    bad_json = await site.post(site.blocks + "/new", action="preview", model="{", **_form())
    assert "Not valid JSON" in bad_json.text
    assert await ContentBlocks(site.db).list(site.server_id) == []


async def test_the_rule_tester_lists_the_contacts_the_typed_rule_matches(site: Site) -> None:
    block = await _block(site, "mug", rule="contact.country == 'GB'")
    winner = await _block(site, "banner", priority=10, rule="contact.Plan == 'gold'")
    await site.as_user("marta@shop.test")
    tested = await site.post(
        f"{site.blocks}/{block.id}",
        action="test_rule",
        email="eva@example.com",
        model='{"order": {"total": 60}}',
        **_form(rule="contact.country == 'ES' and order.total > 50"),
    )
    assert tested.status_code == 200
    text = _text(tested.text)
    assert "2 of 3 contacts match." in text
    matches = tested.text.split('class="block-matches"')[1].split("</table>")[0]
    assert "ana@example.com" in matches and "eva@example.com" in matches
    assert "bob@example.com" not in matches and "Plan</code>: gold" in matches
    # The one-contact answer is the service's, on the saved block: another block wins Eva.
    assert "The rule above is not saved" in text
    assert "The saved rule does not match this contact." in text
    assert f"Another block fills the slot: banner (priority {winner.priority})" in text
    bob = await site.post(
        f"{site.blocks}/{block.id}", action="test_rule", email="bob@example.com", **_form()
    )
    assert "This block fills the slot." in bob.text
    assert "2 of 3 contacts match." in _text(bob.text)
    broken = await site.post(f"{site.blocks}/{block.id}", action="test_rule", **_form(rule="a =="))
    assert "The audience rule does not compile" in broken.text
    # A viewer sees the counts, not the profiles.
    await site.as_user("vera@shop.test")
    counted = await site.post(
        f"{site.blocks}/{block.id}", action="test_rule", **_form(rule="contact.country == 'ES'")
    )
    assert "2 of 3 contacts match." in _text(counted.text)
    assert "ana@example.com" not in counted.text and "does not see contacts" in counted.text


async def test_roles_servers_and_forms_are_checked(site: Site) -> None:
    block = await _block(site, "mug")
    theirs = await _block(site, "theirs", server_id=site.other_id)
    url = f"{site.blocks}/{block.id}"
    await site.as_user("vera@shop.test")
    assert (await site.client.get(site.blocks)).status_code == 200
    page = await site.client.get(url)
    assert page.status_code == 200 and "Delete this block" not in page.text
    assert 'value="save"' not in page.text
    assert (await site.post(url, action="save", **_form())).status_code == 403
    assert (await site.post(url + "/delete", confirm="yes")).status_code == 403
    assert (await site.client.get(site.blocks + "/new")).status_code == 403
    assert (await site.post(site.blocks + "/new", action="save", **_form())).status_code == 403
    assert (await site.post(url, action="preview", **_form())).status_code == 200
    await site.as_user("marta@shop.test")
    assert (await site.client.get(f"{site.blocks}/{theirs.id}")).status_code == 404
    assert (
        await site.post(f"{site.blocks}/{theirs.id}", action="save", **_form())
    ).status_code == 404
    assert (await site.post(f"{site.blocks}/{theirs.id}/delete", confirm="yes")).status_code == 404
    forged = await site.client.post(url, data={"action": "save", **_form()})
    assert forged.status_code == 400
    await site.as_user("otto@other.test")
    assert (await site.client.get(site.blocks)).status_code == 404
    assert await ContentBlocks(site.db).get(site.other_id, theirs.id)


# --- In Chromium --------------------------------------------------------------------------


def _api(ui: UI, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"X-Postmark-Server-Token": ui.tokens["shop"], "Accept": "application/json"}
    return httpx.post(ui.url + path, headers=headers, json=body, timeout=10)


@pytest.mark.slow
async def test_a_marketer_creates_previews_and_tests_an_ab_block(browser: Any, ui: UI) -> None:
    for contact in (
        {"Email": "ana@example.com", "FirstName": "Ana", "Country": "ES", "Locale": "es"},
        {"Email": "bob@example.com", "FirstName": "Bob", "Country": "GB", "Locale": "en"},
    ):
        assert _api(ui, "/contacts", contact).status_code == 200
    page = await browser_sign_in(browser, ui, "marta@shop.test")
    await page.wait_for_url("**/ui")
    activity = await page.get_by_role("link", name="Activity").first.get_attribute("href")
    await page.goto(ui.url + activity.removesuffix("/messages") + "/offers/blocks")
    assert "No content blocks yet." in await page.locator("main").inner_text()
    await page.get_by_role("link", name="New block").click()
    await page.get_by_label("Key", exact=True).fill("mug")
    await page.get_by_label("Slot", exact=True).fill("cross_sell")
    await page.get_by_label("Rule", exact=True).fill("contact.country == 'ES' and order.total > 50")
    await page.locator("#variant-0-split").fill("50")
    await page.locator("#variant-0-locale-0").fill("es")
    await page.locator("#variant-0-body-0").fill("<p>Hola {{ contact.first_name }}, una taza</p>")
    await page.get_by_text("Add a variant").click()
    await page.locator("#variant-1-name").fill("B")
    await page.locator("#variant-1-split").fill("50")
    await page.locator("#variant-1-locale-0").fill("default")
    await page.locator("#variant-1-body-0").fill(
        "<p>{{ contact.first_name }}: {{ promo_code('TAZA') }}</p>"
    )
    await page.get_by_role("button", name="Create the block").click()
    assert "The block was created." in await page.get_by_role("status").inner_text()

    # The preview: variant B for Ana, in the sandboxed frame, with a placeholder code.
    await page.get_by_label("Contact's email").fill("ana@example.com")
    await page.get_by_label("Template model (JSON, optional)").fill('{"order": {"total": 60}}')
    await page.get_by_label("Variant", exact=True).select_option("B")
    await page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator("#preview-frame")
    await frame.get_by_text("Ana: TAZA-PREVIEW").wait_for()
    assert await page.locator("#preview-frame").get_attribute("sandbox") == ""

    # The rule tester: Ana matches (Bob is in GB), and this block fills her slot.
    await page.get_by_role("button", name="Test the rule").click()
    assert await page.locator("#match-count").inner_text() == "1 of 2 contacts match."
    matches = await page.locator("table.block-matches").inner_text()
    assert "ana@example.com" in matches and "bob@example.com" not in matches
    assert "This block fills the slot." in await page.locator("#slot-test").inner_text()
    await page.get_by_role("link", name="All content blocks").click()
    row = await page.locator("tr[data-block=mug]").inner_text()
    assert "running" in row and "A 50%" in row and "B 50%" in row
