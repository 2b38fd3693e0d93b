"""Automation in the UI: the rules list with its counts, the editor (create, refused input kept,
a new version on each save, pause, resume, delete keeping or cancelling what waits), the
tester over stored events, an event's page with its outcomes and messages, the scheduled
messages and their cancelling, who may do what, another server's objects; on both databases
through the app as `misiva serve` builds it (the browser's flow: test_automation_browser.py)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from automation_setup import REMINDER, add_templates, add_trigger, post_event
from misiva.accounts.audit import recent
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.accounts.users import create_user, set_locale, sign_in
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.users import Role
from misiva.ingest.scheduled import ScheduledReleaser
from misiva.runtime.wiring import Platform, build_platform
from misiva.storage import Database
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

PASSWORD = "correct horse battery staple"
# A rule as the editor posts it: a reminder two days after an information request.
RULE = {
    "key": "info-reminder",
    "description": "Two days after a request",
    "event_name": "request.received",
    "condition": "",
    "template": "reminder",
    "stream": "outbound",
    "sender": "hola@shop.test",
    "delay": "2",
    "unit": "days",
    "not_before": "09:00",
    "not_after": "20:00",
    "cap_count": "1",
    "cap_hours": "24",
    "dedupe_hours": "12",
    "cancel_on": "request.answered,\nrequest.closed",
    "tag": "",
}


@dataclass
class Site:
    app: Any
    platform: Platform
    shop: int
    other: int
    tokens: dict[str, str]

    @property
    def db(self) -> Database:
        return self.platform.db

    async def as_user(self, email: str, locale: str = "en") -> tuple[httpx.AsyncClient, str]:
        """A client signed in as `email`, and its session's CSRF token."""
        signed = await sign_in(self.db, email, PASSWORD)
        assert signed is not None
        await set_locale(self.db, signed[1].user, locale)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://ui.test",
            cookies={SESSION_COOKIE: signed[0]},
        )
        return client, signed[1].csrf_token

    def api(self, server: str = "shop") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://misiva.test",
            headers={"X-Postmark-Server-Token": self.tokens[server], "Accept": "application/json"},
        )

    def url(self, tail: str = "", server: int | None = None) -> str:
        return f"/ui/servers/{server or self.shop}/automation{tail}"


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    servers = {}
    for name in ("shop", "other"):
        servers[name] = await create_server(platform.db, name)
        await add_domain(platform.db, f"{name}.test", name)
    for email, role, names in (
        ("marta@shop.test", Role.MARKETER, ("shop",)),
        ("vera@shop.test", Role.VIEWER, ("shop",)),
        ("otto@other.test", Role.MARKETER, ("other",)),
    ):
        await create_user(platform.db, email, PASSWORD, role, server_names=names)
    made = Site(
        app,
        platform,
        servers["shop"].server.id,
        servers["other"].server.id,
        {name: s.api_token for name, s in servers.items()},
    )
    async with made.api() as api:
        await add_templates(api)
    yield made
    await platform.close()


def _text(page: str) -> str:
    # Tags become spaces; a comma after a tag (`<code>a</code>, <code>b</code>`) stays put.
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" ,", ",")


def _row(page: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', page, re.S)
    assert found is not None, f"no row {attribute}={value}"
    return _text(found.group(1))


async def _audited(site: Site) -> list[tuple[str, str]]:
    return [(e.entry.action, e.entry.target) for e in await recent(site.db, limit=50)]


async def test_a_marketer_creates_a_rule_with_the_form_and_each_save_is_a_version(
    site: Site,
) -> None:
    client, csrf = await site.as_user("marta@shop.test")
    async with client:
        empty = await client.get(site.url())
        assert empty.status_code == 200, empty.text
        assert "No rules yet." in empty.text
        assert f'href="{site.url()}" aria-current="page"' in empty.text  # the server menu
        for link in ("/rules/new", "/events", "/scheduled"):
            assert f'href="{site.url(link)}"' in empty.text

        form = (await client.get(site.url("/rules/new"))).text
        assert 'name="template"' in form and '<option value="reminder">' in form
        for wrong, problem in (
            ({"delay": "two"}, "The delay must be a whole number of minutes, hours or days."),
            ({"not_before": "9am"}, "A window's time is written HH:MM, such as 09:00."),
            ({"cap_hours": ""}, "A cap needs both: how many messages, and over how many hours."),
            ({"template": "missing"}, "The template 'missing' was not found"),
            ({"condition": "total >"}, "condition"),
            ({"sender": "hola@elsewhere.test"}, "not on a sending domain of this server"),
            ({"key": "no spaces"}, "Invalid trigger key"),
        ):
            refused = await client.post(
                site.url("/rules/new"), data={"csrf": csrf, **RULE, **wrong, "action": "save"}
            )
            assert refused.status_code == 422, (wrong, refused.text)
            assert problem in _text(refused.text), (wrong, _text(refused.text))
            # What was typed is kept.
            assert 'value="Two days after a request"' in refused.text
            assert 'value="request.received"' in refused.text
        assert "No rules yet." in (await client.get(site.url())).text

        created = await client.post(
            site.url("/rules/new"), data={"csrf": csrf, **RULE, "action": "save"}
        )
        assert created.status_code == 303, created.text
        rule_url = site.url("/rules/info-reminder")
        assert created.headers["location"].startswith(f"{rule_url}?done=created")
        shown = await client.get(created.headers["location"])
        assert "The rule was created" in shown.text
        assert "version 1" in _text(shown.text) and 'value="2"' in shown.text
        assert '<option value="days" selected>' in shown.text
        assert "request.answered\nrequest.closed</textarea>" in shown.text

        listing = await client.get(site.url())
        row = _row(listing.text, "data-rule", "info-reminder")
        assert row.startswith("info-reminder Two days after a request request.received")
        for words in (
            "every event",
            "after 2 days",
            "09:00 to 20:00, the contact's time",
            "at most 1 per 24 h not again within 12 h",
            "request.answered, request.closed",
            "active 1",
        ):
            assert words in row, (words, row)
        counts = _row(listing.text, "data-counts", "info-reminder")
        assert counts == "info-reminder 0 0 0 0 0 0 0 0 0 0"

        changed = {**RULE, "delay": "3", "cap_count": "", "cap_hours": "", "key": "ignored"}
        saved = await client.post(rule_url, data={"csrf": csrf, **changed, "action": "save"})
        assert saved.status_code == 303
        assert saved.headers["location"].startswith(f"{rule_url}?done=saved")
        again = await client.get(saved.headers["location"])
        assert "saved as a new version" in again.text and "version 2" in _text(again.text)
        assert 'data-version="2"' in again.text and 'data-version="1"' in again.text
        assert "after 3 days" in _row(again.text, "data-version", "2")
        assert "after 2 days" in _row(again.text, "data-version", "1")
        assert "marta@shop.test" in _row(again.text, "data-version", "2")
    async with site.api() as api:
        made = (await api.get("/triggers/info-reminder")).json()
        assert (made["Version"], made["DelayMinutes"], made["Cap"]) == (2, 4320, None)
        assert made["CancelOn"] == ["request.answered", "request.closed"]
    audited = await _audited(site)
    assert ("trigger.create", "info-reminder") in audited
    assert ("trigger.update", "info-reminder") in audited


async def test_pause_resume_and_delete_keep_or_cancel_what_is_waiting(site: Site) -> None:
    async with site.api() as api:
        await add_trigger(api, "info-reminder", "request.received", "reminder", DelayMinutes=2880)
        for n in (1, 2):
            await post_event(api, Name="request.received", Email=f"c{n}@example.com")

        async def waiting() -> int:
            found = await api.get("/scheduled-messages?status=scheduled")
            return int(found.json()["TotalCount"])

        client, csrf = await site.as_user("marta@shop.test")
        rule_url = site.url("/rules/info-reminder")
        async with client:
            paused = await client.post(f"{rule_url}/pause", data={"csrf": csrf})
            assert paused.status_code == 303
            shown = _text((await client.get(paused.headers["location"])).text)
            assert "The rule is paused" in shown and "Resume this rule" in shown
            assert "that were cancelled" not in shown and await waiting() == 2
            resumed = await client.post(f"{rule_url}/resume", data={"csrf": csrf})
            assert "resumed" in (await client.get(resumed.headers["location"])).text
            assert not (await api.get("/triggers/info-reminder")).json()["Paused"]

            cancelling = {"csrf": csrf, "scheduled": "cancel"}
            paused = await client.post(f"{rule_url}/pause", data=cancelling)
            shown = _text((await client.get(paused.headers["location"])).text)
            assert "Messages already scheduled by the rule that were cancelled: 2." in shown
            assert await waiting() == 0
            await client.post(f"{rule_url}/resume", data={"csrf": csrf})
            await post_event(api, Name="request.received", Email="c3@example.com")

            unconfirmed = await client.post(f"{rule_url}/delete", data={"csrf": csrf})
            assert unconfirmed.headers["location"] == rule_url
            assert (await client.get(rule_url)).status_code == 200
            deleted = await client.post(f"{rule_url}/delete", data={"csrf": csrf, "confirm": "yes"})
            assert deleted.headers["location"].startswith(site.url("?done=deleted"))
            assert "The rule was deleted." in (await client.get(deleted.headers["location"])).text
            assert (await client.get(rule_url)).status_code == 404
            # Kept by default: the deleted rule's message still leaves.
            assert await waiting() == 1
    audited = await _audited(site)
    for action in ("trigger.pause", "trigger.resume", "trigger.delete"):
        assert (action, "info-reminder") in audited


async def test_the_tester_runs_the_rule_as_typed_over_stored_events(site: Site) -> None:
    async with site.api() as api:
        for n, topic in ((1, "billing"), (2, "sales")):
            data = {"topic": topic}
            await post_event(
                api, Name="request.received", Email=f"c{n}@x.test", Data=data, EventID=f"e{n}"
            )
        await post_event(api, Name="order.placed", Email="c9@example.com")
    client, csrf = await site.as_user("marta@shop.test")
    async with client:
        typed = {**RULE, "condition": "topic == 'billing'", "not_before": "", "not_after": ""}
        tested = await client.post(
            site.url("/rules/new"), data={"csrf": csrf, **typed, "days": "7", "action": "test"}
        )
        assert tested.status_code == 200, tested.text
        text = _text(tested.text)
        assert "1 of 2 events would fire the rule (The last 7 days" in text
        billing, sales = (
            _row(tested.text, "data-event", "e1"),
            _row(tested.text, "data-event", "e2"),
        )
        assert "c1@x.test fired" in billing and billing.endswith("We are on it")
        assert "c2@x.test not matched" in sales
        assert "the condition `topic == 'billing'` does not hold" in sales
        # The form stays as typed; nothing was stored.
        assert "topic == &#39;billing&#39;</textarea>" in tested.text
        assert '<option value="7" selected>' in tested.text

        broken = {**typed, "template": "order-confirmation", "condition": ""}
        tested = await client.post(
            site.url("/rules/new"), data={"csrf": csrf, **broken, "action": "test"}
        )
        text = _text(tested.text)
        assert "0 of 2 events would fire" in text
        assert "template order-confirmation needs order.number" in text
        bad = await client.post(
            site.url("/rules/new"), data={"csrf": csrf, **typed, "delay": "x", "action": "test"}
        )
        assert bad.status_code == 200 and "The delay must be a whole number" in bad.text
    async with site.api() as api:
        assert (await api.get("/triggers")).json()["TotalCount"] == 0
        assert (await api.get("/scheduled-messages")).json()["TotalCount"] == 0


async def test_an_events_page_shows_each_rules_outcome_and_the_messages(site: Site) -> None:
    async with site.api() as api:
        await add_trigger(api, "ack", "request.received", "reminder")
        await add_trigger(api, "info-reminder", "request.received", "reminder", DelayMinutes=2880)
        await add_trigger(
            api, "billing", "request.received", "reminder", Condition="topic == 'billing'"
        )
        await add_trigger(api, "broken", "request.received", "order-confirmation")
        await add_trigger(api, "quiet", "request.received", "reminder", Paused=True)
        data = {"topic": "sales", "note": "<script>alert(1)</script>"}
        await post_event(
            api, Name="request.received", Email="ana@example.com", Data=data, EventID="req/1?x"
        )
        await post_event(api, Name="order.placed", Email="bob@example.com", EventID="o-1")
    released = await ScheduledReleaser(
        site.db, site.platform.ingestor, site.platform.directory
    ).run_once()
    assert len(released.sent) == 1
    client, _ = await site.as_user("vera@shop.test")
    async with client:
        listing = await client.get(site.url("/events"))
        assert listing.status_code == 200
        row = _row(listing.text, "data-event", "req/1?x")
        assert "request.received ana@example.com" in row
        assert "2 fired, 1 not matched, 1 paused, 1 with an error" in row
        assert "no rule listens to it" in _row(listing.text, "data-event", "o-1")
        assert f'href="{site.url("/events/req/1%3Fx")}"' in listing.text
        filtered = await client.get(site.url("/events?name=order.placed"))
        assert 'data-event="o-1"' in filtered.text and "req/1?x" not in filtered.text
        by_contact = await client.get(site.url("/events?email=ANA@example.com"))
        assert 'data-event="req/1?x"' in by_contact.text and "o-1" not in by_contact.text

        page = await client.get(site.url("/events/req/1%3Fx"))
        assert page.status_code == 200, page.text
        # The data as JSON, escaped.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text
        assert "fired" in _row(page.text, "data-rule", "ack")
        assert "not matched" in _row(page.text, "data-rule", "billing")
        assert "`topic == 'billing'` does not hold" in _row(page.text, "data-rule", "billing")
        assert "paused the rule is paused" in _row(page.text, "data-rule", "quiet")
        broken = _row(page.text, "data-rule", "broken")
        assert "error" in broken and "needs order.number" in broken
        [sent] = released.sent
        assert f'<a href="/ui/messages/{sent}">' in page.text
        assert "sent" in _row(page.text, "data-message", sent)
        waiting = re.findall(r'<tr data-message="([^"]+)">', page.text)
        [later] = [m for m in waiting if m != sent]
        row = _row(page.text, "data-message", later)
        assert "info-reminder scheduled" in row
        assert (await client.get(f"/ui/messages/{sent}")).status_code == 200
        assert (await client.get(site.url("/events/nope"))).status_code == 404


async def test_scheduled_messages_are_listed_and_cancelled(site: Site) -> None:
    async with site.api() as api:
        await add_trigger(api, "info-reminder", "request.received", "reminder", DelayMinutes=2880)
        made = await post_event(api, Name="request.received", Email="ana@example.com", EventID="r1")
        scheduled_id = made["Rules"][0]["ScheduledMessageID"]
        at = datetime.now(UTC) + timedelta(hours=1)
        sent_at = {
            "From": "hola@shop.test",
            "To": "kim@example.com",
            "Subject": "Later",
            "TextBody": "Hi",
            "SendAt": at.isoformat(),
        }
        assert (await api.post("/email", json=sent_at)).status_code == 200
    viewer, viewer_csrf = await site.as_user("vera@shop.test")
    async with viewer:
        listing = await viewer.get(site.url("/scheduled"))
        assert listing.status_code == 200
        # Soonest first: the SendAt send in an hour, then the reminder in two days.
        assert re.findall(r'<tr data-message="([^"]+)">', listing.text)[1] == scheduled_id
        row = _row(listing.text, "data-message", scheduled_id)
        assert "ana@example.com reminder outbound scheduled info-reminder r1" in row
        assert "a send with SendAt" in listing.text and "Cancel" not in row
        assert "Scheduled messages found: 2." in _text(listing.text)
        only_sent = await viewer.get(site.url("/scheduled?status=sent"))
        assert "Scheduled messages found: 0." in _text(only_sent.text)
        by_rule = await viewer.get(site.url("/scheduled?rule=info-reminder"))
        assert "Scheduled messages found: 1." in _text(by_rule.text)
        wrong = await viewer.get(site.url("/scheduled?status=lost"))
        assert "That status does not exist." in wrong.text
        refused = await viewer.post(
            site.url(f"/scheduled/{scheduled_id}/cancel"), data={"csrf": viewer_csrf}
        )
        assert refused.status_code == 403
    client, csrf = await site.as_user("marta@shop.test")
    async with client:
        cancel_url = site.url(f"/scheduled/{scheduled_id}/cancel")
        assert f'action="{cancel_url}"' in (await client.get(site.url("/scheduled"))).text
        assert (await client.post(cancel_url, data={})).status_code == 400
        done = await client.post(cancel_url, data={"csrf": csrf, "status": "scheduled"})
        assert done.status_code == 303
        assert done.headers["location"] == site.url("/scheduled?done=cancelled&status=scheduled")
        after = await client.get(done.headers["location"])
        assert "The scheduled message was cancelled" in after.text
        assert scheduled_id not in after.text
        everything = await client.get(site.url("/scheduled"))
        row = _row(everything.text, "data-message", scheduled_id)
        assert "cancelled Cancelled in the UI by marta@shop.test." in row
        again = await client.post(cancel_url, data={"csrf": csrf})
        assert again.status_code == 422 and "was already cancelled" in again.text
        missing = await client.post(site.url("/scheduled/nope/cancel"), data={"csrf": csrf})
        assert missing.status_code == 404
    assert ("scheduled.cancel", scheduled_id) in await _audited(site)


async def test_viewers_only_look_and_another_servers_rules_and_events_are_not_found(
    site: Site,
) -> None:
    async with site.api() as api:
        await add_trigger(api, "info-reminder", "request.received", "reminder")
    async with site.api("other") as other:
        made = await other.post("/templates", json=REMINDER)
        assert made.status_code == 200
        body = {"Key": "theirs", "EventName": "x", "Template": "reminder", "From": "a@other.test"}
        assert (await other.post("/triggers", json=body)).status_code == 200
        await post_event(other, Name="x", Email="z@example.com", EventID="their-event")
    viewer, csrf = await site.as_user("vera@shop.test")
    async with viewer:
        listing = await viewer.get(site.url())
        assert listing.status_code == 200 and "New rule" not in listing.text
        rule = await viewer.get(site.url("/rules/info-reminder"))
        assert rule.status_code == 200 and "Save a new version" not in rule.text
        assert "Delete this rule" not in rule.text
        assert (await viewer.get(site.url("/rules/new"))).status_code == 403
        for path, data in (
            ("/rules/new", {**RULE, "action": "save"}),
            ("/rules/info-reminder", {**RULE, "action": "save"}),
            ("/rules/info-reminder/pause", {}),
            ("/rules/info-reminder/resume", {}),
            ("/rules/info-reminder/delete", {"confirm": "yes"}),
        ):
            refused = await viewer.post(site.url(path), data={"csrf": csrf, **data})
            assert refused.status_code == 403, path
        # Reading, the viewer may test the rule.
        tested = await viewer.post(
            site.url("/rules/info-reminder"), data={"csrf": csrf, **RULE, "action": "test"}
        )
        assert tested.status_code == 200 and 'id="tester-results"' in tested.text
    client, csrf = await site.as_user("marta@shop.test")
    async with client:
        assert (await client.get(site.url("/rules/theirs"))).status_code == 404
        assert (await client.get(site.url("/events/their-event"))).status_code == 404
        for path in ("/rules/theirs", "/rules/theirs/pause", "/rules/theirs/delete"):
            posted = await client.post(site.url(path), data={"csrf": csrf, "confirm": "yes"})
            assert posted.status_code == 404, path
        assert (await client.get(site.url(server=site.other))).status_code == 404
    otto, _ = await site.as_user("otto@other.test")
    async with otto:
        assert (await otto.get(site.url())).status_code == 404
        assert (await otto.get(site.url("/rules/theirs", site.other))).status_code == 200


async def test_the_automation_pages_speak_spanish(site: Site) -> None:
    async with site.api() as api:
        await add_trigger(api, "info-reminder", "request.received", "reminder", DelayMinutes=2880)
        await post_event(api, Name="request.received", Email="ana@example.com", EventID="r1")
    client, _ = await site.as_user("marta@shop.test", "es")
    async with client:
        listing = _text((await client.get(site.url())).text)
        assert "Automatización" in listing and "Nueva regla" in listing
        assert "tras 2 días" in listing and "Los últimos 30 días" in listing
        rule = _text((await client.get(site.url("/rules/info-reminder"))).text)
        assert "Guardar una versión nueva" in rule and "Probar con eventos recientes" in rule
        events = _text((await client.get(site.url("/events"))).text)
        assert "Eventos recientes" in events and "disparadas: 1" in events
        scheduled = _text((await client.get(site.url("/scheduled"))).text)
        assert "Mensajes programados" in scheduled and "programado" in scheduled
