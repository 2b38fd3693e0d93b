"""A message submitted over SMTP becomes the send the API would take: bodies, attachments,
the caller's header fields, Postmark's X-PM options, recipients from the envelope."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from misiva.domain.errors import InvalidRequest
from misiva.ingest.validate import validate_send
from misiva.mail.submission import fields_from_message

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _simple(**extra: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Tienda Olivar <hola@shop.test>"
    message["To"] = "Ana Pérez <ana@example.com>"
    message["Subject"] = "Tu pedido nº 1042 ✓"
    for name, value in extra.items():
        message[name.replace("_", "-")] = value
    message.set_content("Gracias por tu pedido.\n")
    return bytes(message)


def test_a_plain_message_becomes_a_send() -> None:
    fields = fields_from_message(_simple(), ["ana@example.com"])
    assert fields.from_ == "Tienda Olivar <hola@shop.test>"
    assert fields.to is not None and fields.to.endswith("<ana@example.com>")
    assert fields.bcc is None
    assert fields.subject == "Tu pedido nº 1042 ✓"
    assert fields.text_body == "Gracias por tu pedido.\n" and fields.html_body is None
    request = validate_send(fields)
    assert request.recipients == ("ana@example.com",)
    assert request.to[0].name == "Ana Pérez"


def test_postmarks_smtp_headers_set_options_and_are_not_copied() -> None:
    raw = _simple(
        X_PM_Message_Stream="broadcast",
        X_PM_Tag="welcome",
        X_PM_Metadata_Order_ID="1042",
        X_PM_TrackOpens="true",
        X_PM_TrackLinks="HtmlOnly",
        X_Campaign="winter",
        Message_ID="<abc@client.example>",
    )
    fields = fields_from_message(raw, ["ana@example.com"])
    assert fields.message_stream == "broadcast" and fields.tag == "welcome"
    assert fields.metadata == {"Order-ID": "1042"}
    assert fields.track_opens is True and fields.track_links == "HtmlOnly"
    assert [(h.name, h.value) for h in fields.headers] == [("X-Campaign", "winter")]


def test_envelope_recipients_decide_who_gets_it() -> None:
    message = EmailMessage()
    message["From"] = "hola@shop.test"
    message["To"] = "ana@example.com, bea@example.com"
    message["Cc"] = "carla@example.com"
    message["Bcc"] = "should-not-leak@example.com"
    message["Subject"] = "Hi"
    message.set_content("Hi")
    # bea is named in To but this copy is not for her; dani is a blind copy.
    fields = fields_from_message(
        bytes(message), ["ana@example.com", "CARLA@example.com", "dani@x.test"]
    )
    assert fields.bcc == "dani@x.test"
    assert all(h.name.lower() != "bcc" for h in fields.headers)
    request = validate_send(fields)
    assert request.recipients == ("ana@example.com", "carla@example.com", "dani@x.test")


def test_alternative_bodies_attachments_and_inline_images() -> None:
    root = MIMEMultipart("mixed")
    root["From"] = "hola@shop.test"
    root["To"] = "ana@example.com"
    root["Subject"] = "=?utf-8?q?Factura_n=C2=BA_7?="
    related = MIMEMultipart("related")
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Tu factura", "plain", "utf-8"))
    alternative.attach(MIMEText('<p>Tu factura <img src="cid:logo@shop"></p>', "html", "utf-8"))
    related.attach(alternative)
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo@shop>")
    logo.add_header("Content-Disposition", "inline")
    related.attach(logo)
    root.attach(related)
    pdf = MIMEApplication(b"%PDF-1.4 factura", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="factura-7.pdf")
    root.attach(pdf)
    fields = fields_from_message(root.as_bytes(), ["ana@example.com"])
    assert fields.subject == "Factura nº 7"
    assert fields.text_body == "Tu factura" and fields.html_body is not None
    assert "cid:logo@shop" in fields.html_body
    image, document = fields.attachments
    assert image.content_id == "<logo@shop>" and image.content_type == "image/png"
    assert base64.b64decode(image.content or "") == PNG
    assert document.name == "factura-7.pdf" and document.content_type == "application/pdf"
    request = validate_send(fields)
    assert [a.name for a in request.attachments] == ["part-1.png", "factura-7.pdf"]


def test_a_bad_track_opens_value_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="X-PM-TrackOpens"):
        fields_from_message(_simple(X_PM_TrackOpens="maybe"), ["ana@example.com"])


def test_encoded_and_raw_utf8_names_survive_and_a_comma_in_a_name_splits_nothing() -> None:
    raw = (
        "From: =?utf-8?q?P=C3=A9rez=2C_Ana?= <hola@shop.test>\r\n"
        "To: Zoë Ñúñez <zoe@example.com>, =?iso-8859-1?q?Jos=E9?= <jose@example.com>\r\n"
        "Subject: =?utf-8?b?wqFIb2xhIQ==?=\r\n\r\nHola\r\n"
    ).encode()
    request = validate_send(fields_from_message(raw, ["zoe@example.com", "jose@example.com"]))
    assert request.sender.name == "Pérez, Ana" and request.sender.email == "hola@shop.test"
    assert [(a.name, a.email) for a in request.to] == [
        ("Zoë Ñúñez", "zoe@example.com"),
        ("José", "jose@example.com"),
    ]
    assert request.subject == "¡Hola!"


def test_bytes_that_are_no_message_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        fields_from_message(b"\r\n\r\njust a body", ["ana@example.com"])
