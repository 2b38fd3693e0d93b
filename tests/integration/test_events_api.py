"""The events API in-process on SQLite and PostgreSQL: an order fires its receipt at once and a
cross-sell follow-up three days later, a cancellation cancels the follow-up; event ids are
idempotent; the contact is upserted; conditions, caps, dedupe windows and local send windows
decide; a template missing a variable records an error, schedules nothing and alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from automation_setup import (
    MovableClock,
    add_templates,
    add_trigger,
    automation_api,
    post_event,
    rules_of,
)
from builders import Tenant
from misiva.accounts.servers import create_server
from misiva.domain.alerts import AlertLevel, AlertMetric, AlertScope
from misiva.ingest.scheduled import ScheduledReleaser
from misiva.runtime.wiring import Platform
from misiva.scheduler.alerts import AlertEvaluator
from misiva.storage.tables_automation import scheduled_messages

ORDER = {"order": {"number": "A-1", "total": 80, "item": "teapot"}}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def wakes() -> list[int]:
    return []


@pytest.fixture
async def api(
    platform: Platform, tenant: Tenant, clock: MovableClock, wakes: list[int]
) -> AsyncIterator[httpx.AsyncClient]:
    async with automation_api(platform, tenant.token, clock, wakes) as client:
        await add_templates(client)
        yield client


async def test_an_order_fires_its_receipt_now_and_a_follow_up_that_a_cancellation_cancels(
    api: httpx.AsyncClient, platform: Platform, clock: MovableClock, wakes: list[int]
) -> None:
    await add_trigger(api, "receipt", "order.placed", "order-confirmation")
    await add_trigger(
        api,
        "follow-up",
        "order.placed",
        "cross-sell",
        DelayMinutes=3 * 24 * 60,
        CancelOn=["order.cancelled"],
    )
    await add_trigger(api, "refund", "order.cancelled", "reminder", Condition="refund == true")
    placed = await post_event(
        api,
        Name="order.placed",
        Email="Ana@Example.com",
        Data=ORDER,
        EventID="order-A-1",
        Contact={"FirstName": "Ana", "Country": "ES"},
    )
    assert placed["EventID"] == "order-A-1" and placed["Duplicate"] is False
    rules = rules_of(placed)
    assert rules["receipt"]["Outcome"] == "scheduled"
    assert rules["receipt"]["SendAt"] == clock.now.isoformat()
    assert rules["follow-up"]["SendAt"] == (clock.now + timedelta(days=3)).isoformat()
    assert wakes == [1]  # the receipt is due now: the releaser was woken after the commit

    shown = (await api.get("/events/order-A-1")).json()
    messages = {m["TriggerKey"]: m for m in shown["Messages"]}
    assert {k: m["Status"] for k, m in messages.items()} == {
        "receipt": "scheduled",
        "follow-up": "scheduled",
    }
    assert messages["follow-up"]["MessageID"] == rules["follow-up"]["ScheduledMessageID"]
    assert shown["Data"] == ORDER and shown["Email"] == "ana@example.com"
    contact = (await api.get("/contacts/ana@example.com")).json()
    assert (contact["FirstName"], contact["Country"]) == ("Ana", "ES")

    # The releaser (woken above) sends the receipt: a message under its MessageID.
    releaser = ScheduledReleaser(platform.db, platform.ingestor, platform.directory, clock=clock)
    assert (await releaser.run_once()).sent == (rules["receipt"]["ScheduledMessageID"],)
    details = await api.get(f"/messages/outbound/{rules['receipt']['ScheduledMessageID']}/details")
    assert details.status_code == 200, details.text
    assert details.json()["Subject"] == "Order A-1 confirmed"
    assert "Hi Ana, order A-1." in details.json()["HtmlBody"]

    clock.advance(hours=5)
    cancelled = await post_event(
        api, Name="order.cancelled", Email="ana@example.com", Data={"refund": False}
    )
    assert cancelled["CancelledMessageIDs"] == [rules["follow-up"]["ScheduledMessageID"]]
    assert rules_of(cancelled)["refund"]["Outcome"] == "not_matched"
    assert "refund == true" in rules_of(cancelled)["refund"]["Reason"]
    shown = (await api.get("/events/order-A-1")).json()
    after = {m["TriggerKey"]: m for m in shown["Messages"]}
    assert after["follow-up"]["Status"] == "cancelled"
    assert (
        after["follow-up"]["Error"] == f"cancelled by event order.cancelled {cancelled['EventID']}"
    )
    assert after["receipt"]["Status"] == "sent"
    assert wakes == [1]

    # Through the API: the receipt delivered, the follow-up listed as cancelled, and three
    # days later nothing more leaves.
    await platform.new_worker().run_once()
    details = await api.get(f"/messages/outbound/{rules['receipt']['ScheduledMessageID']}/details")
    kinds = [e["Type"] for e in details.json()["MessageEvents"]]
    assert "Delivered" in kinds, kinds
    follow_up = await api.get(f"/scheduled-messages/{rules['follow-up']['ScheduledMessageID']}")
    assert follow_up.status_code == 200, follow_up.text
    assert follow_up.json()["Status"] == "cancelled"
    listed = (await api.get("/scheduled-messages", params={"status": "cancelled"})).json()
    assert [m["MessageID"] for m in listed["ScheduledMessages"]] == [
        rules["follow-up"]["ScheduledMessageID"]
    ]
    clock.advance(days=3, minutes=1)
    assert len(await releaser.run_once()) == 0


async def test_a_repeated_event_id_is_accepted_once(api: httpx.AsyncClient) -> None:
    await add_trigger(api, "receipt", "order.placed", "order-confirmation")
    body = {"Name": "order.placed", "Email": "bob@example.com", "Data": ORDER, "EventID": "e-7"}
    first = await post_event(api, **body, Contact={"FirstName": "Bob"})
    again = await post_event(api, **{**body, "Data": {}}, Contact={"FirstName": "Robert"})
    assert again["Duplicate"] is True and again["Rules"] == first["Rules"]
    assert again["OccurredAt"] == first["OccurredAt"]
    shown = (await api.get("/events/e-7")).json()
    assert len(shown["Messages"]) == 1 and shown["Data"] == ORDER
    assert (await api.get("/contacts/bob@example.com")).json()["FirstName"] == "Bob"
    assert (await api.get("/events")).json()["TotalCount"] == 1
    # Without an EventID each report is its own event, with an id Misiva made.
    made = [await post_event(api, Name="order.placed", Email="bob@example.com") for _ in "ab"]
    assert made[0]["EventID"] != made[1]["EventID"] and len(made[0]["EventID"]) == 36


async def test_an_events_contact_fields_update_the_profile_without_erasing_it(
    api: httpx.AsyncClient,
) -> None:
    saved = await api.post(
        "/contacts", json={"Email": "eve@example.com", "FirstName": "Eve", "Plan": "gold"}
    )
    assert saved.status_code == 200
    await post_event(
        api,
        Name="signup.completed",
        Email="eve@example.com",
        Contact={"City": "Sevilla", "TimeZone": "Europe/Madrid"},
    )
    contact = (await api.get("/contacts/eve@example.com")).json()
    assert (contact["FirstName"], contact["City"]) == ("Eve", "Sevilla")
    assert contact["Attributes"] == {"Plan": "gold", "TimeZone": "Europe/Madrid"}


async def test_the_condition_decides_over_the_data_and_the_contact(api: httpx.AsyncClient) -> None:
    await add_trigger(
        api,
        "big-orders",
        "order.placed",
        "cross-sell",
        Condition="order.total > 50 and contact.country == 'ES'",
    )
    await api.post("/contacts", json={"Email": "ana@example.com", "Country": "ES"})

    async def outcome(email: str, data: dict[str, Any]) -> dict[str, Any]:
        found = await post_event(api, Name="order.placed", Email=email, Data=data)
        return rules_of(found)["big-orders"]

    assert (await outcome("ana@example.com", ORDER))["Outcome"] == "scheduled"
    small = await outcome("ana@example.com", {"order": {"total": 20, "item": "cup"}})
    assert small["Outcome"] == "not_matched" and small["ScheduledMessageID"] is None
    assert "order.total > 50" in str(small["Reason"])
    assert (await outcome("jean@example.com", ORDER))["Outcome"] == "not_matched"
    # A condition reading what the event lacks does not hold (it does not crash).
    assert (await outcome("ana@example.com", {}))["Outcome"] == "not_matched"


async def test_a_cap_and_a_dedupe_window_hold_back_repeats(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    await add_trigger(api, "capped", "page.viewed", "reminder", Cap={"Count": 2, "PeriodHours": 24})
    await add_trigger(api, "once-an-hour", "page.viewed", "reminder", DedupeHours=1)

    async def view() -> dict[str, dict[str, object]]:
        return rules_of(await post_event(api, Name="page.viewed", Email="ana@example.com"))

    first = await view()
    assert {k: r["Outcome"] for k, r in first.items()} == {
        "capped": "scheduled",
        "once-an-hour": "scheduled",
    }
    second = await view()
    assert second["capped"]["Outcome"] == "scheduled"
    assert second["once-an-hour"]["Outcome"] == "deduplicated"
    assert "in the last 1 hour" in str(second["once-an-hour"]["Reason"])
    clock.advance(hours=2)
    third = await view()
    assert third["capped"]["Outcome"] == "capped"
    assert "2 message(s) from this rule in the last 1 day" in str(third["capped"]["Reason"])
    assert third["once-an-hour"]["Outcome"] == "scheduled"
    # Another contact has caps of their own.
    other = rules_of(await post_event(api, Name="page.viewed", Email="bob@example.com"))
    assert other["capped"]["Outcome"] == "scheduled"
    clock.advance(hours=23)
    assert (await view())["capped"]["Outcome"] == "scheduled"


async def test_a_window_sends_at_nine_in_the_contacts_own_time_zone(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    await add_trigger(
        api,
        "morning",
        "request.received",
        "reminder",
        DelayMinutes=60,
        Window={"NotBefore": "09:00", "NotAfter": "20:00"},
    )
    clock.now = datetime.fromisoformat("2030-03-04T03:00:00+00:00")
    madrid = await post_event(
        api,
        Name="request.received",
        Email="ana@example.com",
        Contact={"TimeZone": "Europe/Madrid"},
    )
    # 04:00 UTC (05:00 in Madrid) is before 09:00 there: 09:00 CET is 08:00 UTC.
    assert rules_of(madrid)["morning"]["SendAt"] == "2030-03-04T08:00:00+00:00"
    mexico = await post_event(
        api,
        Name="request.received",
        Email="luis@example.com",
        Contact={"TimeZone": "America/Mexico_City"},
    )
    assert rules_of(mexico)["morning"]["SendAt"] == "2030-03-04T15:00:00+00:00"
    # No time zone (or an unknown one): UTC.
    nowhere = await post_event(
        api, Name="request.received", Email="kim@example.com", Contact={"TimeZone": "Mars/Base"}
    )
    assert rules_of(nowhere)["morning"]["SendAt"] == "2030-03-04T09:00:00+00:00"
    # Inside the window the delay alone counts; an event that happened earlier counts from then.
    clock.now = datetime.fromisoformat("2030-03-04T12:00:00+00:00")
    late = await post_event(
        api,
        Name="request.received",
        Email="ana@example.com",
        OccurredAt="2030-03-04T11:30:00Z",
    )
    assert rules_of(late)["morning"]["SendAt"] == "2030-03-04T12:30:00+00:00"
    old = await post_event(
        api, Name="request.received", Email="ana@example.com", OccurredAt="2030-03-01T10:00:00"
    )
    assert rules_of(old)["morning"]["SendAt"] == "2030-03-04T12:00:00+00:00"


async def test_a_missing_variable_records_an_error_sends_nothing_and_alerts(
    api: httpx.AsyncClient,
    platform: Platform,
    tenant: Tenant,
    clock: MovableClock,
    wakes: list[int],
) -> None:
    await add_trigger(api, "receipt", "order.placed", "order-confirmation")
    await add_trigger(api, "follow-up", "order.placed", "cross-sell", DelayMinutes=60)
    found = await post_event(
        api,
        Name="order.placed",
        Email="ana@example.com",
        Data={"order": {"item": "pot"}},
        EventID="no-number",
    )
    receipt = rules_of(found)["receipt"]
    assert receipt["Outcome"] == "error" and receipt["ScheduledMessageID"] is None
    reason = "template order-confirmation needs order.number, which the event's data lacks"
    assert receipt["Reason"] == reason
    assert rules_of(found)["follow-up"]["Outcome"] == "scheduled"  # the other rule still fires
    shown = (await api.get("/events/no-number")).json()
    assert [m["TriggerKey"] for m in shown["Messages"]] == ["follow-up"]
    assert wakes == []  # nothing due now

    evaluator = AlertEvaluator(platform.db, clock=clock)
    [opened] = (await evaluator.run_once()).opened
    assert (opened.metric, opened.scope, opened.subject, opened.level) == (
        AlertMetric.AUTOMATION_ERRORS,
        AlertScope.TRIGGER,
        "receipt",
        AlertLevel.WARNING,
    )
    assert opened.describe() == f"warning: trigger receipt: 1 error(s) in the last hour ({reason})"
    [shown_alert] = (await api.get("/alerts", params={"state": "open"})).json()["Alerts"]
    assert (shown_alert["Scope"], shown_alert["Subject"]) == ("trigger", "receipt")
    assert shown_alert["Summary"] == opened.describe()

    # A follow-up refused at release (the releaser marks it failed) alerts on its own rule.
    follow_up = rules_of(found)["follow-up"]["ScheduledMessageID"]
    clock.advance(minutes=59)
    async with platform.db.transaction() as tx:
        await tx.execute(
            sa.update(scheduled_messages)
            .where(scheduled_messages.c.id == follow_up)
            .values(status="failed", error="The template is broken (ErrorCode 1122)")
            .values(updated_at=clock.now)
        )
    again = await evaluator.run_once()
    assert [(a.subject, a.details["failed"]) for a in again.opened] == [("follow-up", 1)]
    assert again.resolved == []
    # An hour without an error resolves each: the receipt's first, then the follow-up's.
    clock.advance(minutes=2)
    assert [a.subject for a in (await evaluator.run_once()).resolved] == ["receipt"]
    clock.advance(minutes=58)
    assert (await evaluator.run_once()).resolved == []
    clock.advance(minutes=1)
    assert [a.subject for a in (await evaluator.run_once()).resolved] == ["follow-up"]
    await create_server(platform.db, "quiet")  # another server is measured and stays quiet
    assert (await evaluator.run_once()).opened == []


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"Email": "ana@example.com"}, 300, "An event needs a 'Name'"),
        ({"Name": "order placed", "Email": "ana@example.com"}, 300, "Invalid 'Name'"),
        ({"Name": "order.placed"}, 300, "needs the 'Email'"),
        ({"Name": "order.placed", "Email": "not-an-address"}, 300, "Invalid 'Email'"),
        ({"Name": "a", "Email": "a@b.test", "Data": [1]}, 300, "'Data' must be a JSON object"),
        ({"Name": "a", "Email": "a@b.test", "OccurredAt": "yesterday"}, 300, "ISO 8601"),
        ({"Name": "a", "Email": "a@b.test", "OccurredAt": "2031-01-01T00:00Z"}, 300, "future"),
        ({"Name": "a", "Email": "a@b.test", "EventID": "x" * 101}, 300, "'EventID' must be"),
        ({"Name": "a", "Email": "a@b.test", "Contact": "Ana"}, 300, "'Contact' must be"),
        ({"Name": "a", "Email": "a@b.test", "Contact": {"Locale": "??"}}, 300, "Locale"),
        ({"Name": "a", "Email": "a@b.test", "Model": {}}, 300, "Unknown field 'Model'"),
        ([], 300, "must be a JSON object"),
    ],
)
async def test_a_bad_event_gets_a_clear_message(
    api: httpx.AsyncClient, body: object, code: int, message: str
) -> None:
    refused = await api.post("/events", json=body)
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == code and message in refused.json()["Message"]


async def test_a_batch_accepts_the_good_events_and_answers_each_in_place(
    api: httpx.AsyncClient, wakes: list[int]
) -> None:
    await add_trigger(api, "receipt", "order.placed", "order-confirmation")
    batch = [
        {"Name": "order.placed", "Email": "ana@example.com", "Data": ORDER, "EventID": "b-1"},
        {"Name": "order.placed", "Email": "broken"},
        {"Name": "order.placed", "Email": "bob@example.com", "Data": ORDER, "EventID": "b-1"},
        {"Name": "signup.completed", "Email": "eve@example.com"},
    ]
    answered = await api.post("/events/batch", json=batch)
    assert answered.status_code == 200, answered.text
    results = answered.json()
    assert [r["ErrorCode"] for r in results] == [0, 300, 0, 0]
    assert "Invalid 'Email'" in results[1]["Message"]
    assert results[0]["Rules"][0]["Outcome"] == "scheduled"
    # The same EventID twice in one batch: the second is the first one, accepted once.
    assert results[2]["Duplicate"] is True and results[2]["Email"] == "ana@example.com"
    assert results[3]["Rules"] == [] and wakes == [1]
    assert (await api.get("/events")).json()["TotalCount"] == 2
    too_many = await api.post("/events/batch", json=[{"Name": "a"}] * 501)
    assert too_many.status_code == 422 and too_many.json()["ErrorCode"] == 410
    not_a_list = await api.post("/events/batch", json={"Name": "a"})
    assert not_a_list.json()["ErrorCode"] == 403


async def test_events_are_listed_and_a_contacts_history_read_but_not_another_servers(
    api: httpx.AsyncClient, platform: Platform, clock: MovableClock, wakes: list[int]
) -> None:
    for number, (name, email) in enumerate(
        [
            ("order.placed", "ana@example.com"),
            ("order.shipped", "ana@example.com"),
            ("order.placed", "bob@example.com"),
        ]
    ):
        await post_event(api, Name=name, Email=email, EventID=f"e-{number}")
        clock.advance(hours=1)
    listed = (await api.get("/events", params={"count": 2})).json()
    assert listed["TotalCount"] == 3 and [e["EventID"] for e in listed["Events"]] == ["e-2", "e-1"]
    placed = (await api.get("/events", params={"name": "order.placed"})).json()
    assert [e["EventID"] for e in placed["Events"]] == ["e-2", "e-0"]
    since = (clock.now - timedelta(hours=2, minutes=30)).isoformat()
    recent = (await api.get("/events", params={"since": since})).json()
    assert [e["EventID"] for e in recent["Events"]] == ["e-2", "e-1"]
    history = (await api.get("/contacts/ana@example.com/events")).json()
    assert [e["EventID"] for e in history["Events"]] == ["e-1", "e-0"]
    bad = await api.get("/events", params={"since": "last week"})
    assert bad.status_code == 422 and "ISO 8601" in bad.json()["Message"]

    other = await create_server(platform.db, "other")
    async with automation_api(platform, other.api_token, clock, wakes) as elsewhere:
        missing = await elsewhere.get("/events/e-0")
        assert missing.status_code == 422 and missing.json()["ErrorCode"] == 1171
        assert "'e-0' was not found" in missing.json()["Message"]
        assert (await elsewhere.get("/events")).json()["TotalCount"] == 0
        assert (await elsewhere.get("/contacts/ana@example.com/events")).json()["Events"] == []
    test_token = await api.get("/events", headers={"X-Postmark-Server-Token": "POSTMARK_API_TEST"})
    assert test_token.status_code == 401


async def test_two_events_of_one_person_at_once_are_deduplicated_not_both_sent(
    api: httpx.AsyncClient,
) -> None:
    await add_trigger(api, "welcome", "signup.completed", "reminder", DedupeHours=24)
    body = {"Name": "signup.completed", "Email": "ana@example.com"}
    # A double click: two reports without an EventID, accepted at the same moment.
    answers = await asyncio.gather(*(api.post("/events", json=body) for _ in range(4)))
    outcomes = sorted(rules_of(a.json())["welcome"]["Outcome"] for a in answers)
    assert outcomes == ["deduplicated", "deduplicated", "deduplicated", "scheduled"]
