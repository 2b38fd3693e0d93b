"""RFC 3464 DSNs and RFC 5965 ARF reports as Misiva will receive them: per-recipient
outcomes, the original message they return, and which feedback is a complaint."""

from __future__ import annotations

import pytest

from misiva.bounces import message_id_from_header, parse_feedback, parse_feedback_all
from misiva.domain.bounces import BounceType, FeedbackKind

MESSAGE_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
VERP = f"b+{MESSAGE_ID}@bounces.example.com"


def dsn(groups: list[str], *, original: str) -> bytes:
    """A multipart/report DSN (RFC 6522 §3, RFC 3464 §2) with one group per recipient."""
    fields = "\r\n".join(
        ["Reporting-MTA: dns; mx.example.org", ""] + [g.replace("\n", "\r\n") for g in groups]
    )
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {VERP}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n{fields}\r\n"
        f"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}\r\n"
        "\r\n--B--\r\n"
    ).encode()


def group(recipient: str, action: str, status: str, diagnostic: str = "") -> str:
    lines = [f"Final-Recipient: rfc822; {recipient}", f"Action: {action}", f"Status: {status}"]
    lines += ["Remote-MTA: dns; mx.example.net"]
    lines += [f"Diagnostic-Code: smtp; {diagnostic}"] if diagnostic else []
    return "\n".join(lines) + "\n"


ORIGINAL = (
    f"From: shop@example.com\r\nTo: a@example.net\r\nMessage-ID: <{MESSAGE_ID}@mail.example.com>"
)


def test_each_recipient_outcome_is_its_own_report_failures_first() -> None:
    raw = dsn(
        [
            group("ok@example.net", "delivered", "2.0.0", "250 2.0.0 OK"),
            group("full@example.net", "failed", "5.2.2", "552 5.2.2 Mailbox full"),
            group("Gone@Example.NET", "failed", "5.1.1", "550 5.1.1 User unknown"),
            group("late@example.net", "delayed", "4.4.1", "421 4.4.1 Connection timed out"),
            group("gone2@example.net", "failed", "5.1.1", "550 5.1.1 No such user"),
        ],
        original=ORIGINAL,
    )
    reports = parse_feedback_all(raw)
    outcomes = [(r.kind, r.bounce_type, r.recipients) for r in reports]
    assert outcomes == [
        (FeedbackKind.BOUNCE, BounceType.SOFT_BOUNCE, ("full@example.net",)),
        (FeedbackKind.BOUNCE, BounceType.HARD_BOUNCE, ("gone@example.net", "gone2@example.net")),
        (FeedbackKind.DELAY, BounceType.TRANSIENT, ("late@example.net",)),
        (FeedbackKind.NOT_BOUNCE, None, ("ok@example.net",)),
    ]
    assert parse_feedback(raw) == reports[0]
    assert reports[1].status == "5.1.1"
    assert reports[1].diagnostic == "smtp; 550 5.1.1 User unknown"
    assert reports[1].remote_mta == "mx.example.net"


def test_the_returned_headers_tie_the_dsn_to_its_message() -> None:
    raw = dsn([group("a@example.net", "failed", "5.1.1")], original=ORIGINAL)
    report = parse_feedback(raw)
    assert report.original_message_id == f"{MESSAGE_ID}@mail.example.com"
    assert message_id_from_header(report.original_message_id or "") == MESSAGE_ID


def test_an_x_misiva_message_id_stands_in_for_a_missing_message_id() -> None:
    original = f"From: shop@example.com\r\nX-Misiva-Message-ID: {MESSAGE_ID}"
    report = parse_feedback(dsn([group("a@example.net", "failed", "5.1.1")], original=original))
    assert report.original_message_id == MESSAGE_ID


@pytest.mark.parametrize(
    ("status", "diagnostic", "bounce_type"),
    [
        ("5.7.1", "554 5.7.1 Message rejected due to spam content", BounceType.BLOCKED),
        ("5.7.1", "550 5.7.1 rejected by DMARC policy for example.com", BounceType.DMARC_POLICY),
        ("4.4.3", "451 4.4.3 Temporary DNS failure", BounceType.DNS_ERROR),
        ("5.0.0", "550 5.1.1 <a@example.net>... User Unknown", BounceType.HARD_BOUNCE),
    ],
)
def test_dsn_failures_take_their_type_from_status_and_words(
    status: str, diagnostic: str, bounce_type: BounceType
) -> None:
    raw = dsn([group("a@example.net", "failed", status, diagnostic)], original=ORIGINAL)
    assert parse_feedback(raw).bounce_type is bounce_type


def arf(feedback_fields: str) -> bytes:
    """An RFC 5965 §2 report: notice, message/feedback-report, and the original message."""
    return (
        "From: feedback@fbl.example.net\r\n"
        f"To: {VERP}\r\n"
        "Subject: Abuse report\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        "\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"{feedback_fields}Version: 1\r\nUser-Agent: SomeFBL/1.0\r\n"
        f"\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n{ORIGINAL}\r\nSubject: Hi\r\n\r\nHi\r\n"
        "\r\n--F--\r\n"
    ).encode()


def test_an_abuse_report_is_a_complaint_by_its_original_recipient() -> None:
    report = parse_feedback(arf("Feedback-Type: abuse\r\nOriginal-Rcpt-To: <Bob@Example.net>\r\n"))
    assert report.kind is FeedbackKind.COMPLAINT
    assert report.bounce_type is BounceType.SPAM_COMPLAINT
    assert report.recipients == ("bob@example.net",)
    assert report.original_message_id == f"{MESSAGE_ID}@mail.example.com"


def test_without_original_rcpt_to_the_enclosed_to_is_the_complainant() -> None:
    report = parse_feedback(arf("Feedback-Type: abuse\r\n"))
    assert report.recipients == ("a@example.net",)


@pytest.mark.parametrize("feedback_type", ["auth-failure", "not-spam"])
def test_feedback_that_is_not_a_complaint_is_not_a_bounce(feedback_type: str) -> None:
    # RFC 6591 authentication failure reports; RFC 6430 "not-spam" is the opposite of one.
    report = parse_feedback(arf(f"Feedback-Type: {feedback_type}\r\n"))
    assert report.kind is FeedbackKind.NOT_BOUNCE
    assert report.bounce_type is None
    assert report.details["feedback_type"] == feedback_type
