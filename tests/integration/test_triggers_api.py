"""The triggers API in-process on SQLite and PostgreSQL: rules created, changed into versions
(what they scheduled kept, or cancelled when asked), paused, resumed and deleted; refused with
clear messages when they cannot work; a dry run over stored events that stores nothing; each
rule's counts; another server's rules are not found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from automation_setup import (
    MovableClock,
    add_templates,
    add_trigger,
    automation_api,
    post_event,
    rules_of,
    trigger_body,
)
from builders import Tenant
from misiva.accounts.servers import create_server
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.events.record import record_events
from misiva.ingest.scheduled import ScheduledReleaser
from misiva.runtime.wiring import Platform

ORDER = {"order": {"number": "A-1", "total": 80, "item": "teapot"}}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def api(
    platform: Platform, tenant: Tenant, clock: MovableClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with automation_api(platform, tenant.token, clock, []) as client:
        await add_templates(client)
        yield client


async def _statuses(api: httpx.AsyncClient, event_id: str) -> dict[str, str]:
    shown = (await api.get(f"/events/{event_id}")).json()
    return {m["TriggerKey"]: m["Status"] for m in shown["Messages"]}


async def test_a_trigger_is_created_changed_into_versions_paused_and_deleted(
    api: httpx.AsyncClient,
) -> None:
    made = await add_trigger(
        api,
        "follow-up",
        "order.placed",
        "cross-sell",
        DelayMinutes=4320,
        Window={"NotBefore": "09:00", "NotAfter": None},
        Cap={"Count": 1, "PeriodHours": 168},
        DedupeHours=24,
        CancelOn=["order.cancelled", "order.cancelled"],
        Description="Three days after",
    )
    assert made["Version"] == 1 and made["Paused"] is False and made["Tag"] is None
    assert made["Window"] == {"NotBefore": "09:00", "NotAfter": None}
    assert made["CancelOn"] == ["order.cancelled"] and made["MessageStream"] == "outbound"
    assert (await api.get("/triggers/follow-up")).json() == made
    await post_event(api, Name="order.placed", Email="ana@example.com", Data=ORDER, EventID="o1")

    # A change is a new version; what version 1 scheduled stays scheduled (the default).
    changed = await api.patch("/triggers/follow-up", json={"DelayMinutes": 2880, "Tag": "x"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["Version"], body["DelayMinutes"], body["Tag"]) == (2, 2880, "x")
    assert body["CancelledScheduled"] == 0 and body["Window"] == made["Window"]
    assert await _statuses(api, "o1") == {"follow-up": "scheduled"}
    # Sent back as read, with "Scheduled": "cancel": version 3, and what waits is cancelled.
    edited = {**body, "Condition": "order.total > 10", "Scheduled": "cancel"}
    cancelled = (await api.patch("/triggers/follow-up", json=edited)).json()
    assert cancelled["Version"] == 3 and cancelled["CancelledScheduled"] == 1
    assert await _statuses(api, "o1") == {"follow-up": "cancelled"}
    versions = (await api.get("/triggers/follow-up/versions")).json()
    assert [(v["Version"], v["DelayMinutes"], v["Author"]) for v in versions["Versions"]] == [
        (3, 2880, "api"),
        (2, 2880, "api"),
        (1, 4320, "api"),
    ]
    fired = await post_event(api, Name="order.placed", Email="bob@example.com", Data=ORDER)
    assert rules_of(fired)["follow-up"]["Version"] == 3

    paused = (await api.post("/triggers/follow-up/pause")).json()
    assert paused["Paused"] is True and paused["CancelledScheduled"] == 0
    ignored = await post_event(api, Name="order.placed", Email="eve@example.com", Data=ORDER)
    assert rules_of(ignored)["follow-up"]["Outcome"] == "paused"
    assert (await api.post("/triggers/follow-up/resume")).json()["Paused"] is False
    again = (await api.post("/triggers/follow-up/pause", json={"Scheduled": "cancel"})).json()
    assert again["CancelledScheduled"] == 1  # bob's
    await api.post("/triggers/follow-up/resume")
    listed = (await api.get("/triggers")).json()
    assert listed["TotalCount"] == 1 and listed["Triggers"][0]["Version"] == 3

    await post_event(api, Name="order.placed", Email="kim@example.com", Data=ORDER, EventID="o4")
    deleted = await api.delete("/triggers/follow-up")
    assert deleted.json()["CancelledScheduled"] == 0
    assert await _statuses(api, "o4") == {"follow-up": "scheduled"}  # kept: it still leaves
    gone = await api.get("/triggers/follow-up")
    assert gone.status_code == 422 and gone.json()["ErrorCode"] == 1170
    await add_trigger(api, "follow-up", "order.placed", "cross-sell", DelayMinutes=60)
    await post_event(api, Name="order.placed", Email="lee@example.com", Data=ORDER, EventID="o5")
    removed = await api.delete("/triggers/follow-up", params={"Scheduled": "cancel"})
    assert removed.json()["CancelledScheduled"] == 1
    assert await _statuses(api, "o5") == {"follow-up": "cancelled"}


def _create(**fields: Any) -> dict[str, Any]:
    return {**trigger_body("rule", "order.placed", "order-confirmation"), **fields}


BAD_TRIGGERS = [
    (_create(Key="no spaces"), 300, "Invalid trigger key"),
    (_create(Key=None), 300, "needs a 'Key'"),
    (_create(EventName=None), 300, "needs 'EventName'"),
    (_create(EventName="order placed"), 300, "Invalid 'EventName'"),
    (_create(Template="nope"), 1101, "template 'nope' was not found"),
    (_create(Template=True), 300, "'Template' must be"),
    (_create(MessageStream="broadcasts"), 1235, "stream 'broadcasts' does not exist"),
    (_create(From="hola@elsewhere.test"), 400, "not on a sending domain"),
    (_create(From="not an address"), 300, "'From'"),
    (_create(Condition="order.total >"), 300, "The condition does not compile"),
    (_create(DelayMinutes=-1), 300, "'DelayMinutes' must be a whole number from 0 to 525600"),
    (_create(DelayMinutes="3d"), 300, "'DelayMinutes' must be a whole number"),
    (_create(Delay="3d"), 300, "Unknown field 'Delay'"),
    (_create(Window={"NotBefore": "9am"}), 300, "'Window.NotBefore' must be a local time"),
    (_create(Window={"NotBefore": "09:00", "NotAfter": "09:00"}), 300, "must differ"),
    (_create(Window="mornings"), 300, "'Window' must be"),
    (_create(Cap={"Count": 0, "PeriodHours": 24}), 300, "'Cap.Count' must be"),
    (_create(Cap={"Count": 1}), 300, "'Cap.PeriodHours' must be"),
    (_create(DedupeHours=0), 300, "'DedupeHours' must be"),
    (_create(CancelOn="order.cancelled"), 300, "'CancelOn' must be a list"),
    (_create(CancelOn=["bad name"]), 300, "Invalid 'CancelOn'"),
    (_create(Paused="yes"), 300, "'Paused' must be"),
    ([], 300, "must be a JSON object"),
]


async def test_a_trigger_that_cannot_work_is_refused_with_a_clear_message(
    api: httpx.AsyncClient,
) -> None:
    for body, code, message in BAD_TRIGGERS:
        refused = await api.post("/triggers", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert (refused.json()["ErrorCode"], message in refused.json()["Message"]) == (
            code,
            True,
        ), (body, refused.json())
    assert (await api.get("/triggers")).json()["TotalCount"] == 0
    await add_trigger(api, "rule", "order.placed", "order-confirmation")
    taken = await api.post("/triggers", json=_create())
    assert taken.status_code == 422 and "already exists" in taken.json()["Message"]
    wrong = await api.patch("/triggers/rule", json={"Scheduled": "later"})
    assert "'Scheduled' must be 'keep'" in wrong.json()["Message"]
    assert (await api.get("/triggers/rule")).json()["Version"] == 1
    stats = await api.get("/triggers/rule/stats", params={"since": "soon"})
    assert stats.status_code == 422 and "ISO 8601" in stats.json()["Message"]


async def test_a_dry_run_shows_what_the_rule_would_have_sent_and_stores_nothing(
    api: httpx.AsyncClient, clock: MovableClock
) -> None:
    # Yesterday's events, reported then with no rule listening.
    clock.advance(days=-1, hours=-2)  # 10:00 yesterday
    for number, (email, total) in enumerate(
        [("ana@example.com", 80), ("bob@example.com", 20), ("ana@example.com", 90)]
    ):
        order = {"order": {"number": f"A-{number}", "total": total, "item": "pot"}}
        await post_event(api, Name="order.placed", Email=email, Data=order, EventID=f"y{number}")
        clock.advance(hours=1)
    await post_event(api, Name="order.placed", Email="eve@example.com", Data={"order": {}})
    clock.advance(days=1)  # today, 13:00
    await add_trigger(
        api,
        "big-orders",
        "order.placed",
        "order-confirmation",
        Condition="order.total > 50",
        DedupeHours=24,
        DelayMinutes=30,
        Window={"NotBefore": "11:00", "NotAfter": "20:00"},
    )
    before = (await api.get("/events")).json()
    ran = await api.post("/triggers/big-orders/dry-run")
    assert ran.status_code == 200, ran.text
    run = ran.json()
    assert (run["TotalEvents"], run["Tested"], run["WouldFire"]) == (4, 4, 1)
    tried = {e["EventID"]: e for e in run["Events"]}
    assert list(tried)[:3] == ["y0", "y1", "y2"]  # in the order they happened
    assert tried["y0"]["Subject"] == "Order A-0 confirmed"
    assert tried["y0"]["SendAt"] == "2030-03-03T11:00:00+00:00"  # 10:30, moved to 11:00
    assert tried["y1"]["Outcome"] == "not_matched" and tried["y1"]["Subject"] is None
    assert tried["y2"]["Outcome"] == "deduplicated"
    [eve] = [e for e in run["Events"] if e["Email"] == "eve@example.com"]
    assert eve["Outcome"] == "not_matched"

    # An unsaved definition: no condition, another template, and one that lacks a variable.
    tried_out = await api.post(
        "/triggers/big-orders/dry-run",
        json={"Definition": {"Condition": None, "DedupeHours": None, "Template": "cross-sell"}},
    )
    unsaved = {e["EventID"]: e for e in tried_out.json()["Events"]}
    assert unsaved["y1"]["Subject"] == "Something for your pot"
    assert eve["EventID"] in unsaved and unsaved[eve["EventID"]]["Outcome"] == "error"
    assert unsaved[eve["EventID"]]["Reason"] == (
        "template cross-sell needs order.item, which the event's data lacks"
    )
    assert tried_out.json()["WouldFire"] == 3
    # A rule never saved: its whole definition, as for POST /triggers.
    new_rule = await api.post(
        "/triggers/dry-run",
        json={
            "Definition": {
                "Key": "draft",
                "EventName": "order.placed",
                "Template": "order-confirmation",
                "From": "hola@shop.test",
                "Condition": "order.total > 85",
            }
        },
    )
    assert new_rule.status_code == 200, new_rule.text
    assert new_rule.json()["WouldFire"] == 1
    refused = await api.post("/triggers/dry-run", json={"Definition": {"Key": "x"}})
    assert refused.status_code == 422
    assert (await api.get("/triggers/draft")).status_code == 422  # nothing was saved
    # A chosen period; nothing was stored or scheduled by either run.
    narrow = await api.post(
        "/triggers/big-orders/dry-run",
        json={"Since": "2030-03-03T10:30:00Z", "Until": "2030-03-03T11:30:00Z"},
    )
    assert [e["EventID"] for e in narrow.json()["Events"]] == ["y1"]
    assert (await api.get("/events")).json() == before
    assert [await _statuses(api, f"y{n}") for n in range(3)] == [{}, {}, {}]
    backwards = await api.post(
        "/triggers/big-orders/dry-run", json={"Since": "2030-03-04T00:00Z", "Until": "2030-03-03"}
    )
    assert "'Until' must be after 'Since'" in backwards.json()["Message"]
    stats = (await api.get("/triggers/big-orders/stats")).json()
    assert stats["Fired"] == 0 and stats["Waiting"] == 0


async def test_each_rules_counts_follow_its_events_and_messages(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, clock: MovableClock
) -> None:
    await add_trigger(
        api,
        "receipt",
        "order.placed",
        "order-confirmation",
        Condition="order.total > 10",
        Cap={"Count": 1, "PeriodHours": 24},
    )
    await add_trigger(api, "nudge", "order.placed", "reminder", DedupeHours=1, DelayMinutes=60)
    orders = [
        ("ana@example.com", ORDER),
        ("ana@example.com", ORDER),  # capped
        ("bob@example.com", {"order": {"total": 5}}),  # not matched
        ("eve@example.com", {"order": {"total": 50}}),  # missing order.number: error
        ("kim@example.com", ORDER),
    ]
    fired = [await post_event(api, Name="order.placed", Email=e, Data=d) for e, d in orders]
    ana_receipt = rules_of(fired[0])["receipt"]["ScheduledMessageID"]
    kim_receipt = rules_of(fired[4])["receipt"]["ScheduledMessageID"]
    releaser = ScheduledReleaser(platform.db, platform.ingestor, platform.directory, clock=clock)
    released = await releaser.run_once()
    assert sorted(released.sent) == sorted([ana_receipt, kim_receipt])  # the receipts, due now
    async with platform.db.transaction() as tx:
        await record_events(
            tx,
            [
                EventRecord(ana_receipt, tenant.server.id, EventType.OPENED, "x", clock.now, {}),
                EventRecord(ana_receipt, tenant.server.id, EventType.OPENED, "x", clock.now, {}),
                EventRecord(kim_receipt, tenant.server.id, EventType.CLICKED, "x", clock.now, {}),
            ],
        )
    converted = await api.post(
        "/conversions",
        json={"MessageID": ana_receipt, "Value": "19.90", "Currency": "EUR", "OrderID": "o-1"},
    )
    assert converted.status_code == 200, converted.text
    await api.post("/events", json={"Name": "order.cancelled", "Email": "kim@example.com"})
    nudge_waiting = (await api.get("/events", params={"email": "kim@example.com"})).json()
    assert nudge_waiting["TotalCount"] == 2
    await api.post("/triggers/nudge/pause", json={"Scheduled": "cancel"})

    receipt = (await api.get("/triggers/receipt/stats")).json()
    assert {k: receipt[k] for k in ("Fired", "Capped", "NotMatched", "Errors")} == {
        "Fired": 2,
        "Capped": 1,
        "NotMatched": 1,
        "Errors": 1,
    }
    assert {k: receipt[k] for k in ("Sent", "Waiting", "Opened", "Clicked", "Converted")} == {
        "Sent": 2,
        "Waiting": 0,
        "Opened": 1,
        "Clicked": 1,
        "Converted": 1,
    }
    assert receipt["Revenue"] == {"EUR": 19.9}
    nudge = (await api.get("/triggers/nudge/stats")).json()
    assert (nudge["Fired"], nudge["Deduplicated"], nudge["Cancelled"]) == (4, 1, 4)
    assert (nudge["Errors"], nudge["Waiting"], nudge["Sent"]) == (0, 0, 0)
    before = {"since": "2030-03-04T11:00:00Z", "until": "2030-03-04T11:59:00Z"}
    earlier = (await api.get("/triggers/receipt/stats", params=before)).json()
    assert (earlier["Fired"], earlier["Sent"], earlier["Since"]) == (
        0,
        0,
        "2030-03-04T11:00:00+00:00",
    )
    backwards = await api.get("/triggers/receipt/stats", params={"since": "2030-03-05"})
    assert "'until' must be after 'since'" in backwards.json()["Message"]


async def test_another_servers_triggers_are_not_found(
    api: httpx.AsyncClient, platform: Platform, clock: MovableClock
) -> None:
    await add_trigger(api, "receipt", "order.placed", "order-confirmation")
    other = await create_server(platform.db, "other")
    async with automation_api(platform, other.api_token, clock, []) as elsewhere:
        assert (await elsewhere.get("/triggers")).json()["TotalCount"] == 0
        for method, path in [
            ("GET", "/triggers/receipt"),
            ("PATCH", "/triggers/receipt"),
            ("POST", "/triggers/receipt/pause"),
            ("POST", "/triggers/receipt/resume"),
            ("DELETE", "/triggers/receipt"),
            ("GET", "/triggers/receipt/versions"),
            ("POST", "/triggers/receipt/dry-run"),
            ("GET", "/triggers/receipt/stats"),
        ]:
            body: dict[str, Any] | None = {} if method in ("PATCH", "POST") else None
            answer = await elsewhere.request(method, path, json=body)
            assert answer.status_code == 422, (method, path)
            assert answer.json() == {
                "ErrorCode": 1170,
                "Message": "The trigger 'receipt' was not found.",
            }
        # Its events do not reach this server's rules either.
        result = await post_event(elsewhere, Name="order.placed", Email="a@b.test", Data=ORDER)
        assert result["Rules"] == []
    assert (await api.get("/triggers/receipt")).json()["Version"] == 1
