"""SMTP replies met during delivery get the same Postmark bounce types as returned bounces."""

from __future__ import annotations

import pytest

from misiva.bounces import classify_smtp_reply, feedback_class
from misiva.bounces.classify import PERMANENT_RULES, TRANSIENT_RULES, find_status
from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport
from misiva.domain.smtp import connection_failed, timed_out

HARD = BounceType.HARD_BOUNCE
SOFT = BounceType.SOFT_BOUNCE


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (550, "5.1.1 <x@example.com>: Recipient address rejected: User unknown", HARD),
        (550, "5.1.1 The email account that you tried to reach does not exist.", HARD),
        (550, "Requested action not taken: mailbox unavailable", HARD),  # RFC 5321 §4.2.2
        (553, "5.1.3 Bad recipient address syntax", HARD),
        (550, "5.1.2 Host unknown (Name server: mx.nowhere.example: host not found)", HARD),
        (554, "5.4.4 Host or domain name not found. Name service error", HARD),
        (550, "5.1.6 recipient no longer on server", HARD),
        (552, "5.2.2 <x@example.com>: mailbox full", SOFT),
        (552, "Requested mail action aborted: exceeded storage allocation", SOFT),
        (550, "5.2.1 The email account that you tried to reach is disabled.", SOFT),
        (452, "4.2.2 The email account that you tried to reach is over quota.", SOFT),
        (452, "Requested action not taken: insufficient system storage", SOFT),
        (
            554,
            "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            BounceType.BLOCKED,
        ),
        (550, "5.7.1 Message rejected as spam by Content Filtering.", BounceType.BLOCKED),
        (550, "5.7.606 Access denied, banned sending IP [192.0.2.1]", BounceType.BLOCKED),
        (550, "5.1.8 Sender address rejected: Domain not found", BounceType.BLOCKED),
        (
            550,
            "5.7.26 Unauthenticated email from example.com is not accepted due to domain's "
            "DMARC policy.",
            BounceType.DMARC_POLICY,
        ),
        (554, "5.7.1 Message contains a virus", BounceType.VIRUS_NOTIFICATION),
        (421, "4.7.0 Try again later, closing connection.", BounceType.TRANSIENT),
        (451, "4.7.1 Greylisted, please try again in 300 seconds", BounceType.TRANSIENT),
        (
            450,
            "4.1.2 <x@nowhere.example>: Recipient address rejected: Domain not found",
            BounceType.DNS_ERROR,
        ),
        (451, "4.4.3 Temporary lookup failure", BounceType.DNS_ERROR),
        (554, "Transaction failed", HARD),  # RFC 5321 §4.2.5: 5yz, reason unknown
    ],
)
def test_smtp_replies_are_classified(code: int, text: str, expected: BounceType) -> None:
    assert classify_smtp_reply(code, text) is expected


def test_a_4xx_reply_is_never_permanent_whatever_it_says() -> None:
    # "user unknown" in a 4yz reply (RFC 5321 §4.2.1: transient) must not suppress anyone.
    assert classify_smtp_reply(450, "4.1.1 user unknown, try again") is BounceType.TRANSIENT
    assert classify_smtp_reply(421, "4.7.0 blocked for spam, try later") is BounceType.TRANSIENT


def test_local_network_failures_are_transient() -> None:
    for reply in (connection_failed("refused"), timed_out("DATA")):
        assert classify_smtp_reply(reply.code, reply.text) is BounceType.TRANSIENT


def test_the_rules_are_data_that_only_suppress_through_permanent_rows() -> None:
    assert all(not bounce_type.deactivates for _, bounce_type in TRANSIENT_RULES)
    assert BounceType.HARD_BOUNCE in {bounce_type for _, bounce_type in PERMANENT_RULES}


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Remote host said: 550 5.1.1 <a@b.example>... User Unknown", "5.1.1"),
        ("Sorry, I couldn't find any host named cx.example. (#5.1.2)", "5.1.2"),
        ("451 4.7.650 The mail server [192.0.2.25] has been rate limited", "4.7.650"),
        ("deferred - 4.16.55.1; see https://postmaster.example", ""),
        ("Giving up on 192.0.2.135.", ""),
        ("250 2.1.5 Ok", ""),
    ],
)
def test_statuses_are_found_in_text_but_not_in_addresses_or_versions(
    text: str, status: str
) -> None:
    assert find_status(text) == status


@pytest.mark.parametrize(
    ("kind", "bounce_type", "expected"),
    [
        (FeedbackKind.BOUNCE, BounceType.HARD_BOUNCE, "hard"),
        (FeedbackKind.BOUNCE, BounceType.BLOCKED, "hard"),
        (FeedbackKind.BOUNCE, BounceType.DMARC_POLICY, "hard"),
        (FeedbackKind.BOUNCE, BounceType.SOFT_BOUNCE, "soft"),
        (FeedbackKind.BOUNCE, BounceType.TRANSIENT, "soft"),
        (FeedbackKind.BOUNCE, BounceType.DNS_ERROR, "soft"),
        (FeedbackKind.DELAY, BounceType.TRANSIENT, "soft"),
        (FeedbackKind.COMPLAINT, BounceType.SPAM_COMPLAINT, "complaint"),
        (FeedbackKind.AUTO_REPLY, BounceType.AUTO_RESPONDER, "autoreply"),
        (FeedbackKind.NOT_BOUNCE, None, "not-bounce"),
        (FeedbackKind.NOT_BOUNCE, BounceType.UNSUBSCRIBE, "not-bounce"),
    ],
)
def test_feedback_classes_follow_kind_then_type(
    kind: FeedbackKind, bounce_type: BounceType | None, expected: str
) -> None:
    assert feedback_class(FeedbackReport(kind=kind, bounce_type=bounce_type)) == expected
