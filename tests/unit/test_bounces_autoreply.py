"""Out-of-office and other RFC 3834 automatic replies are AutoResponder, never bounces, and
bounces that wear auto-reply headers stay bounces."""

from __future__ import annotations

import pytest

from misiva.bounces import feedback_class, parse_feedback
from misiva.domain.bounces import BounceType, FeedbackKind

ORIGINAL = "<1b4e28ba-2fa1-11d2-883f-0016d3cca427@mail.example.com>"


def reply(headers: str, *, subject: str = "Re: Your order", body: str = "I am away.") -> bytes:
    return (
        "From: Ana Pérez <Ana@Example.ES>\r\n"
        "To: b+1b4e28ba-2fa1-11d2-883f-0016d3cca427@bounces.example.com\r\n"
        f"Subject: {subject}\r\n"
        f"In-Reply-To: {ORIGINAL}\r\n"
        "Message-ID: <reply-1@example.es>\r\n"
        f"{headers}"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\r\n",  # RFC 3834 §5.1
        "Auto-Submitted: auto-replied (vacation)\r\n",
        "X-Autoreply: yes\r\n",
        "X-Autorespond: Out of office\r\n",
        "Precedence: auto_reply\r\n",
    ],
)
def test_auto_reply_headers_mark_an_auto_responder(headers: str) -> None:
    report = parse_feedback(reply(headers))
    assert report.kind is FeedbackKind.AUTO_REPLY
    assert report.bounce_type is BounceType.AUTO_RESPONDER
    assert report.recipients == ("ana@example.es",)
    assert report.original_message_id == ORIGINAL.strip("<>")
    assert feedback_class(report) == "autoreply"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Your order",
        "Automatic reply: Your order",
        "Auto: Your order",  # RFC 3834 §3.1.5's suggestion
        "Abwesenheitsnotiz: Ihre Bestellung",
        "Fuera de la oficina: Su pedido",
        "Respuesta automática: Su pedido",
        "Réponse automatique : Votre commande",
        "=?utf-8?q?Respuesta_autom=C3=A1tica=3A_Su_pedido?=",  # RFC 2047 encoded
        "RE: Out of the office until Monday",
    ],
)
def test_vacation_subjects_mark_an_auto_responder(subject: str) -> None:
    report = parse_feedback(reply("", subject=subject))
    assert report.kind is FeedbackKind.AUTO_REPLY, subject


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-generated\r\n",  # RFC 3834 §5.1: a notice, not a reply
        "Auto-Submitted: no\r\n",
        "X-Autoreply: no\r\n",
        "Precedence: bulk\r\n",
        "",
    ],
)
def test_ordinary_replies_are_not_auto_replies(headers: str) -> None:
    report = parse_feedback(reply(headers, subject="Re: Your order"))
    assert report.kind is FeedbackKind.NOT_BOUNCE
    assert "error" not in report.details


def test_a_bounce_marked_auto_replied_is_still_a_bounce() -> None:
    # Exim and Postfix mark their non-delivery reports "Auto-Submitted: auto-replied".
    bounce = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\n"
        b"To: b+1b4e28ba-2fa1-11d2-883f-0016d3cca427@bounces.example.com\r\n"
        b"Subject: Mail delivery failed: returning message to sender\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"\r\n"
        b"This message was created automatically by mail delivery software.\r\n\r\n"
        b"A message that you sent could not be delivered to one or more of its\r\n"
        b"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        b"  nobody@example.net\r\n"
        b"    SMTP error from remote mail server after RCPT TO:<nobody@example.net>:\r\n"
        b"    550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"
    )
    report = parse_feedback(bounce)
    assert report.kind is FeedbackKind.BOUNCE
    assert report.bounce_type is BounceType.HARD_BOUNCE
    assert report.recipients == ("nobody@example.net",)
    assert report.status == "5.1.1"


def test_an_unsubscribe_request_is_not_a_bounce_nor_an_auto_reply() -> None:
    report = parse_feedback(reply("Auto-Submitted: auto-replied\r\n", subject="unsubscribe"))
    assert report.kind is FeedbackKind.NOT_BOUNCE
    assert report.bounce_type is BounceType.UNSUBSCRIBE
    assert report.recipients == ("ana@example.es",)
