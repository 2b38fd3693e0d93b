"""When to try again, when to give up, and what one attempt means for a message's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from misiva.bounces import classify_smtp_reply
from misiva.domain.bounces import BounceType
from misiva.domain.delivery import (
    AttemptResult,
    ClaimedMessage,
    EventRecord,
    RecipientOutcome,
    RecipientState,
)
from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.smtp import ReplyClass


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff (RFC 5321 §4.5.4.1 asks for at least 30 minutes between retries
    and 4-5 days before giving up; transactional mail retries sooner and gives up earlier,
    because a password reset that arrives two days late is worthless)."""

    first_seconds: float = 30.0
    max_interval_seconds: float = 3600.0
    max_age_seconds: float = 48 * 3600.0

    def next_attempt(self, attempts: int, now: datetime) -> datetime:
        delay = min(self.first_seconds * 2 ** max(attempts - 1, 0), self.max_interval_seconds)
        return now + timedelta(seconds=delay)

    def expired(self, accepted_at: datetime, now: datetime) -> bool:
        return (now - accepted_at).total_seconds() >= self.max_age_seconds


def settle(
    message: ClaimedMessage,
    outcomes: list[RecipientOutcome],
    now: datetime,
    schedule: RetrySchedule,
) -> tuple[AttemptResult, list[EventRecord]]:
    """Fold one attempt's per-recipient outcomes into the message's new state and events."""
    state = dict(message.rcpt_state)
    give_up = schedule.expired(message.accepted_at, now)
    events = []
    held = [o.held_seconds for o in outcomes if o.held_seconds is not None and not give_up]
    for outcome in outcomes:
        if outcome.held_seconds is not None and not give_up:
            continue  # held back by our own shaping: nothing was sent, nothing happened
        kind, details = _classify(outcome, give_up, message.attempts)
        if kind is EventType.DELIVERED:
            state[outcome.recipient] = RecipientState.DELIVERED.value
        elif kind is EventType.BOUNCED:
            state[outcome.recipient] = RecipientState.BOUNCED.value
        events.append(
            EventRecord(
                message_id=message.id,
                server_id=message.server_id,
                type=kind,
                recipient=outcome.recipient,
                at=now,
                details=details,
            )
        )
    status = _status(state)
    attempted = not held or len(held) < len(outcomes)
    next_attempt_at = now
    if status is MessageStatus.DEFERRED:
        retries = [schedule.next_attempt(message.attempts, now)] if attempted else []
        # A held recipient comes back when its provider has room, not after the backoff.
        next_attempt_at = min([*retries, *(now + timedelta(seconds=s) for s in held)])
        if not attempted and message.attempts <= 1:
            status = MessageStatus.QUEUED  # never tried yet: still just queued
    result = AttemptResult(
        message_id=message.id,
        status=status,
        rcpt_state=state,
        next_attempt_at=next_attempt_at,
        updated_at=now,
        attempted=attempted,
    )
    return result, events


def _classify(
    outcome: RecipientOutcome, give_up: bool, attempt: int
) -> tuple[EventType, dict[str, str]]:
    details = {
        "reply": str(outcome.reply),
        "host": outcome.host,
        "ip": outcome.ip,
        "attempt": str(attempt),
    }
    if outcome.note:
        details["note"] = outcome.note
    match outcome.reply_class:
        case ReplyClass.SUCCESS:
            return EventType.DELIVERED, details
        case ReplyClass.PERMANENT:
            # Which kind of 5xx (unknown user, mailbox full, blocked...) decides whether the
            # address is suppressed: only hard kinds deactivate it.
            kind = classify_smtp_reply(outcome.reply.code, outcome.reply.text)
            severity = "hard" if kind.deactivates else "soft"
            return EventType.BOUNCED, {**details, "bounce": severity, "bounce_type": kind.value}
        case ReplyClass.TRANSIENT if give_up:
            # Retried for the whole retry window: a soft bounce, not a lost message.
            return EventType.BOUNCED, {
                **details,
                "bounce": "soft",
                "bounce_type": BounceType.SOFT_BOUNCE.value,
                "reason": "retries expired",
            }
        case _:
            return EventType.DEFERRED, details


def _status(state: dict[str, str]) -> MessageStatus:
    values = set(state.values())
    if RecipientState.PENDING.value in values:
        return MessageStatus.DEFERRED
    if values == {RecipientState.DELIVERED.value}:
        return MessageStatus.DELIVERED
    if values == {RecipientState.BOUNCED.value}:
        return MessageStatus.BOUNCED
    return MessageStatus.PARTIAL
