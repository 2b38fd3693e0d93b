"""Backoff, giving up, and how per-recipient outcomes fold into a message's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from misiva.delivery.retry import RetrySchedule, settle
from misiva.domain.delivery import ClaimedMessage, RecipientOutcome
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.smtp import SMTPReply

T0 = datetime(2026, 11, 22, tzinfo=UTC)
SCHEDULE = RetrySchedule(first_seconds=30, max_interval_seconds=3600, max_age_seconds=48 * 3600)


def _claimed(*recipients: str, attempts: int = 1, accepted_at: datetime = T0) -> ClaimedMessage:
    return ClaimedMessage(
        id="m1",
        server_id=1,
        domain_id=1,
        envelope_from="a@shop.test",
        rcpt_state=dict.fromkeys(recipients, "pending"),
        mime=b"",
        attempts=attempts,
        accepted_at=accepted_at,
    )


def test_backoff_doubles_from_the_first_retry_within_a_minute_up_to_the_cap() -> None:
    delays = [(SCHEDULE.next_attempt(n, T0) - T0).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays[-1] == 3600


def test_550_for_one_of_three_recipients_bounces_only_that_one() -> None:
    outcomes = [
        RecipientOutcome("a@x.test", SMTPReply(250, "OK")),
        RecipientOutcome("b@x.test", SMTPReply(550, "5.1.1 no such user")),
        RecipientOutcome("c@x.test", SMTPReply(250, "OK")),
    ]
    result, events = settle(_claimed("a@x.test", "b@x.test", "c@x.test"), outcomes, T0, SCHEDULE)
    assert result.status is MessageStatus.PARTIAL
    assert result.rcpt_state == {
        "a@x.test": "delivered",
        "b@x.test": "bounced",
        "c@x.test": "delivered",
    }
    assert [e.type for e in events] == [EventType.DELIVERED, EventType.BOUNCED, EventType.DELIVERED]
    assert events[1].details["bounce"] == "hard"
    assert events[1].details["reply"] == "550 5.1.1 no such user"


def test_451_defers_with_backoff_and_keeps_recipient_pending() -> None:
    outcome = RecipientOutcome("a@x.test", SMTPReply(451, "4.7.1 later"), host="mx", ip="1.2.3.4")
    result, [event] = settle(_claimed("a@x.test", attempts=2), [outcome], T0, SCHEDULE)
    assert result.status is MessageStatus.DEFERRED
    assert result.next_attempt_at == T0 + timedelta(seconds=60)
    assert event.type is EventType.DEFERRED and event.details["host"] == "mx"


def test_transient_failure_after_the_retry_window_is_a_soft_bounce() -> None:
    old = T0 - timedelta(hours=48)
    outcome = RecipientOutcome("a@x.test", SMTPReply(451, "4.7.1 later"))
    result, [event] = settle(_claimed("a@x.test", accepted_at=old), [outcome], T0, SCHEDULE)
    assert result.status is MessageStatus.BOUNCED
    assert event.type is EventType.BOUNCED and event.details["bounce"] == "soft"


def test_all_delivered_is_delivered() -> None:
    result, _ = settle(
        _claimed("a@x.test"), [RecipientOutcome("a@x.test", SMTPReply(250, "OK"))], T0, SCHEDULE
    )
    assert result.status is MessageStatus.DELIVERED


HELD = SMTPReply(451, "4.7.0 held back: sending to google is at its limit")


def test_a_recipient_held_back_by_shaping_is_no_attempt_and_no_event() -> None:
    outcomes = [RecipientOutcome("a@gmail.test", HELD, held_seconds=4.0)]
    result, events = settle(_claimed("a@gmail.test"), outcomes, T0, SCHEDULE)
    assert events == [] and not result.attempted
    assert result.status is MessageStatus.QUEUED
    assert result.next_attempt_at == T0 + timedelta(seconds=4)
    # Tried before: it stays deferred, still without a new event.
    result, _ = settle(_claimed("a@gmail.test", attempts=3), outcomes, T0, SCHEDULE)
    assert result.status is MessageStatus.DEFERRED and not result.attempted


def test_a_held_recipient_beside_a_delivered_one_comes_back_when_its_provider_has_room() -> None:
    outcomes = [
        RecipientOutcome("a@corp.test", SMTPReply(250, "OK")),
        RecipientOutcome("b@gmail.test", HELD, held_seconds=2.0),
    ]
    result, events = settle(_claimed("a@corp.test", "b@gmail.test"), outcomes, T0, SCHEDULE)
    assert [e.type for e in events] == [EventType.DELIVERED] and result.attempted
    assert result.rcpt_state == {"a@corp.test": "delivered", "b@gmail.test": "pending"}
    assert result.next_attempt_at == T0 + timedelta(seconds=2)


def test_a_held_recipient_past_the_retry_window_soft_bounces() -> None:
    old = _claimed("a@gmail.test", accepted_at=T0 - timedelta(hours=49))
    outcomes = [RecipientOutcome("a@gmail.test", HELD, held_seconds=2.0)]
    result, events = settle(old, outcomes, T0, SCHEDULE)
    assert result.status is MessageStatus.BOUNCED
    assert [e.details["reason"] for e in events] == ["retries expired"]
