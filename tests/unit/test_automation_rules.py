"""The pure parts of automation: what a condition reads and whether it holds, the reasons
rules give, the contact's time zone and the send time, a rule's fields checked and parsed from
JSON, an event's fields checked, a contact merged, and the automation-error alert's words."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from misiva.api.trigger_schemas import definition_json, parse_definition
from misiva.automation.content import lacking
from misiva.automation.definitions import check_fields, check_key
from misiva.automation.dry_run import period, yesterday
from misiva.automation.events import merged_contact, new_event
from misiva.automation.rules import (
    condition_model,
    duration,
    holds,
    not_matched,
    send_time,
    zone_of,
)
from misiva.automation.triggers import ScheduledPolicy
from misiva.domain.alerts import (
    AUTOMATION_LEVELS,
    RESOLVE_AT_ONCE,
    Alert,
    AlertLevel,
    AlertMetric,
    AlertScope,
    threshold_from,
)
from misiva.domain.automation import AppEvent, Cap, TriggerDefinition, Window
from misiva.domain.contacts import Contact
from misiva.domain.errors import InvalidRequest

T = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)
RULE = TriggerDefinition("order.placed", "receipt", "Shop <hola@shop.test>")


def _event(data: dict[str, object]) -> AppEvent:
    return AppEvent(1, 1, "e-1", "order.placed", "ana@example.com", data, T, T)


def test_a_condition_reads_the_data_the_contact_and_the_event() -> None:
    model = condition_model(
        _event({"order": {"total": 80}, "event": "shadowed"}), {"city": "Sevilla"}
    )
    assert model["event"] == {"name": "order.placed", "id": "e-1", "occurred_at": T.isoformat()}
    rule = TriggerDefinition(
        "order.placed",
        "receipt",
        "hola@shop.test",
        condition="order.total > 50 and contact.city == 'Sevilla' and event.name == 'order.placed'",
    )
    assert holds(rule, model)
    assert not holds(rule, condition_model(_event({}), {}))  # reads what is not there
    assert holds(RULE, {})  # no condition: every event
    assert not_matched(rule).startswith("the condition `order.total > 50")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=3), "3 days"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=36), "36 hours"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(seconds=30), "30 seconds"),
    ],
)
def test_durations_read_in_their_largest_whole_unit(value: timedelta, text: str) -> None:
    assert duration(value) == text


def test_the_contacts_time_zone_is_their_attribute_else_utc() -> None:
    madrid = Contact(1, "a@b.test", attributes={"TimeZone": "Europe/Madrid"})
    assert zone_of(madrid) == ZoneInfo("Europe/Madrid")
    assert zone_of(Contact(1, "a@b.test", attributes={"time_zone": "America/Lima"})) == ZoneInfo(
        "America/Lima"
    )
    assert zone_of(Contact(1, "a@b.test", attributes={"TimeZone": "Mars/Base"})) is UTC
    assert zone_of(Contact(1, "a@b.test", attributes={"TimeZone": "../etc/passwd"})) is UTC
    assert zone_of(None) is UTC


def test_the_send_time_counts_from_the_event_never_before_now_inside_the_window() -> None:
    later = TriggerDefinition(
        "x", "t", "a@b.test", delay=timedelta(days=3), window=Window(time(9), time(20))
    )
    madrid = ZoneInfo("Europe/Madrid")
    # Three days after 12:00 UTC (13:00 in Madrid) is inside the window.
    assert send_time(later, T, T, madrid) == T + timedelta(days=3)
    # Reported a day late: still three days after it happened, two from now.
    assert send_time(later, T - timedelta(days=1), T, madrid) == T + timedelta(days=2)
    # Reported a week late: now (the window allowing), never in the past.
    assert send_time(later, T - timedelta(days=7), T, madrid) == T
    night = T.replace(hour=22)  # 23:00 in Madrid: the next morning at 09:00 local
    at_once = TriggerDefinition("x", "t", "a@b.test", window=Window(time(9), time(20)))
    assert send_time(at_once, night, night, madrid) == datetime(2030, 3, 5, 8, 0, tzinfo=UTC)
    assert send_time(at_once, night, night, UTC) == datetime(2030, 3, 5, 9, 0, tzinfo=UTC)
    assert send_time(RULE, night, night, madrid) == night


def test_a_missing_variable_is_said_in_the_rules_words() -> None:
    assert lacking("receipt", ["order.number"]) == (
        "template receipt needs order.number, which the event's data lacks"
    )
    assert lacking("welcome", ["contact.first_name", "plan"]) == (
        "template welcome needs plan, which the event's data lacks; "
        "and contact.first_name, which the contact's profile lacks"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_name": "order placed"}, "Invalid 'EventName'"),
        ({"condition": "order.total >"}, "The condition does not compile"),
        ({"delay": timedelta(days=366)}, "from 0 minutes to 365 days"),
        ({"delay": timedelta(minutes=-1)}, "from 0 minutes to 365 days"),
        ({"window": Window(time(9), time(9))}, "must differ"),
        ({"cap": Cap(0, timedelta(hours=1))}, "'Cap.Count' must be from 1 to 1000"),
        ({"cap": Cap(1001, timedelta(hours=1))}, "'Cap.Count' must be from 1 to 1000"),
        ({"cap": Cap(1, timedelta(0))}, "'Cap.PeriodHours'"),
        ({"dedupe": timedelta(days=400)}, "'DedupeHours'"),
        ({"cancel_on": ("ok", "not ok")}, "Invalid 'CancelOn'"),
        ({"cancel_on": tuple(f"e{n}" for n in range(21))}, "at most 20"),
        ({"tag": "x" * 1001}, "'Tag'"),
        ({"description": "x" * 1001}, "'Description'"),
        ({"template": ""}, "needs a 'Template'"),
        ({"sender": "nobody"}, "'From'"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(change: dict[str, object], message: str) -> None:
    bad = TriggerDefinition(**{**_fields(RULE), **change})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(")):
        check_fields(bad)


def _fields(d: TriggerDefinition) -> dict[str, object]:
    return {name: getattr(d, name) for name in d.__dataclass_fields__}


def test_keys_are_plain_names() -> None:
    assert check_key("order-confirmation.v2") == "order-confirmation.v2"
    for bad in ("", "-x", "a b", "x" * 101, "a/b"):
        with pytest.raises(InvalidRequest, match="Invalid trigger key"):
            check_key(bad)


def test_a_rule_parses_from_json_and_a_patch_keeps_what_it_leaves_out() -> None:
    body = {
        "EventName": "order.placed",
        "Template": 12,
        "From": "hola@shop.test",
        "DelayMinutes": 4320,
        "Window": {"NotBefore": "09:00", "NotAfter": "20:30"},
        "Cap": {"Count": 2, "PeriodHours": 24},
        "DedupeHours": 12,
        "CancelOn": ["order.cancelled"],
        "Condition": "  ",
    }
    rule = parse_definition(body)
    assert rule.template == "12" and rule.delay == timedelta(days=3) and rule.condition is None
    assert rule.window == Window(time(9), time(20, 30)) and rule.cap == Cap(2, timedelta(hours=24))
    shown = definition_json(rule)
    assert parse_definition(shown) == rule
    assert shown["DelayMinutes"] == 4320 and shown["Window"]["NotAfter"] == "20:30"
    patched = parse_definition({"DedupeHours": None, "Window": None, "Cap": None}, rule)
    assert (patched.dedupe, patched.window, patched.cap) == (None, Window(), None)
    assert patched.delay == rule.delay and patched.cancel_on == rule.cancel_on
    with pytest.raises(InvalidRequest, match="needs 'From'"):
        parse_definition({"EventName": "a", "Template": "t"})
    with pytest.raises(InvalidRequest, match="HH:MM"):
        parse_definition({"Window": {"NotBefore": "09:00:30"}}, rule)


def test_an_event_is_checked_and_a_contact_merged() -> None:
    event = new_event(
        name="order.placed", email="Ana <ANA@Example.com>", event_id=42, occurred_at=None, now=T
    )
    assert (event.email, event.event_id, event.occurred_at, event.data) == (
        "ana@example.com",
        "42",
        T,
        {},
    )
    madrid = new_event(name="x", email="a@b.test", occurred_at="2030-03-04T13:00+01:00", now=T)
    assert madrid.occurred_at == T and madrid.occurred_at.tzinfo is UTC
    assert new_event(name="x", email="a@b.test", occurred_at="2030-03-04T12:04", now=T)
    with pytest.raises(InvalidRequest, match="in the future"):
        new_event(name="x", email="a@b.test", occurred_at="2030-03-04T12:06Z", now=T)
    with pytest.raises(InvalidRequest, match="'EventID' must be text"):
        new_event(name="x", email="a@b.test", event_id=True, now=T)
    stored = Contact(1, "a@b.test", first_name="Ana", city="Lima", attributes={"plan": "gold"})
    given = Contact(1, "a@b.test", city="Sevilla", attributes={"TimeZone": "Europe/Madrid"})
    merged = merged_contact(stored, given)
    assert (merged.first_name, merged.city) == ("Ana", "Sevilla")
    assert merged.attributes == {"plan": "gold", "TimeZone": "Europe/Madrid"}
    assert merged_contact(None, given) == given


def test_scheduled_policy_and_dry_run_period() -> None:
    assert ScheduledPolicy.parse(None) is ScheduledPolicy.KEEP
    assert ScheduledPolicy.parse("Cancel") is ScheduledPolicy.CANCEL
    with pytest.raises(InvalidRequest, match="'keep'"):
        ScheduledPolicy.parse("later")
    assert yesterday(T) == (datetime(2030, 3, 3, tzinfo=UTC), datetime(2030, 3, 4, tzinfo=UTC))
    assert period(T - timedelta(hours=2), None, T) == (T - timedelta(hours=2), T)
    with pytest.raises(InvalidRequest, match="after 'Since'"):
        period(T, T - timedelta(hours=1), T)


def test_an_automation_error_alert_opens_at_the_first_error_and_says_why() -> None:
    assert AUTOMATION_LEVELS.level(1.0, 1) is AlertLevel.WARNING
    assert AUTOMATION_LEVELS.level(500.0, 1) is AlertLevel.WARNING
    assert AUTOMATION_LEVELS.level(0.0, 1) is None
    assert AlertMetric.AUTOMATION_ERRORS in RESOLVE_AT_ONCE
    alert = Alert(
        1, 1, AlertMetric.AUTOMATION_ERRORS, AlertScope.TRIGGER, "receipt", "1h",
        AlertLevel.WARNING, 3.0, 1.0, 1, T, T,
        details={"reason": "template receipt needs order.number, which the event's data lacks"},
    )  # fmt: skip
    assert alert.describe() == (
        "warning: trigger receipt: 3 error(s) in the last hour "
        "(template receipt needs order.number, which the event's data lacks)"
    )
    with pytest.raises(InvalidRequest, match="first error"):
        threshold_from("automation_errors", 1, 2, 0)


def test_keys_the_addresses_use_are_reserved() -> None:
    for taken in ("new", "NEW", "dry-run"):
        with pytest.raises(InvalidRequest, match="is reserved"):
            check_key(taken)
