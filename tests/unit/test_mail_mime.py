"""Every shape of send becomes well-formed MIME that parses back to what was sent."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import random
import re
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import format_datetime
from typing import Any

import pytest

from misiva.domain.errors import InvalidRequest
from misiva.domain.message import Address, Attachment, HeaderField, SendRequest
from misiva.mail import mime
from misiva.mail.mime import attachment_names, build_mime, extract_bodies

DATE = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
MESSAGE_ID = "0193a0c2-7b1e-7c3d-9a55-1f2e3d4c5b6a"
TEXT = "Hola José,\n\ntu pedido número 1234 está en camino.\n\nGracias,\nLa tienda\n"
HTML = "<html><body><p>Hola <b>José</b>, tu pedido número 1234 está en camino.</p></body></html>"
LOGO = Attachment("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png", "cid:logo.png")
INVOICE = Attachment("factura número 7.pdf", b"%PDF-1.7\n" + b"\x00\xff" * 3000, "application/pdf")


def make_request(**changes: Any) -> SendRequest:
    request = SendRequest(
        sender=Address("ventas@tienda.example", "Tienda Ñandú"),
        to=(Address("jose@example.es", "José Pérez"), Address("ana@example.com")),
        cc=(Address("copia@example.com", "Doe, John"),),
        bcc=(Address("oculto@example.com", "Secret Person"),),
        subject="Tu pedido está en camino",
        html_body=None,
        text_body=TEXT,
        reply_to=(),
        headers=(),
        tag=None,
        metadata={},
        attachments=(),
        stream="outbound",
        track_opens=None,
        track_links=None,
        to_given="José Pérez <jose@example.es>, ana@example.com",
    )
    return dataclasses.replace(request, **changes)


def build(request: SendRequest) -> bytes:
    return build_mime(request, message_id=MESSAGE_ID, domain="tienda.example", date=DATE)


def parse(raw: bytes) -> EmailMessage:
    # Header bytes are UTF-8 for SMTPUTF8 mail (RFC 6532); decode them as such.
    msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def structure(msg: Message) -> Any:
    """The content-type tree, e.g. ("multipart/alternative", ["text/plain", "text/html"])."""
    if msg.is_multipart():
        parts = list(msg.iter_parts()) if isinstance(msg, EmailMessage) else []
        return (msg.get_content_type(), [structure(part) for part in parts])
    return msg.get_content_type()


def assert_wire_format(raw: bytes) -> None:
    """CRLF line endings only (RFC 5322 §2.1), no line over 998 octets (§2.1.1)."""
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


SHAPES = {
    "text only": (dict(text_body=TEXT), "text/plain"),
    "html only": (dict(text_body=None, html_body=HTML), "text/html"),
    "text and html": (
        dict(html_body=HTML),
        ("multipart/alternative", ["text/plain", "text/html"]),
    ),
    "inline image": (
        dict(html_body=HTML, attachments=(LOGO,)),
        (
            "multipart/alternative",
            ["text/plain", ("multipart/related", ["text/html", "image/png"])],
        ),
    ),
    "html with inline image only": (
        dict(text_body=None, html_body=HTML, attachments=(LOGO,)),
        ("multipart/related", ["text/html", "image/png"]),
    ),
    "attachment": (
        dict(html_body=HTML, attachments=(INVOICE,)),
        (
            "multipart/mixed",
            [("multipart/alternative", ["text/plain", "text/html"]), "application/pdf"],
        ),
    ),
    "text with attachment": (
        dict(attachments=(INVOICE,)),
        ("multipart/mixed", ["text/plain", "application/pdf"]),
    ),
    "everything": (
        dict(html_body=HTML, attachments=(LOGO, INVOICE)),
        (
            "multipart/mixed",
            [
                (
                    "multipart/alternative",
                    ["text/plain", ("multipart/related", ["text/html", "image/png"])],
                ),
                "application/pdf",
            ],
        ),
    ),
    "inline image without html is an attachment": (
        dict(attachments=(LOGO,)),
        ("multipart/mixed", ["text/plain", "image/png"]),
    ),
}


@pytest.mark.parametrize(("changes", "expected"), SHAPES.values(), ids=SHAPES.keys())
def test_each_shape_has_its_mime_structure(changes: dict[str, Any], expected: Any) -> None:
    request = make_request(**changes)
    raw = build(request)
    assert_wire_format(raw)
    msg = parse(raw)
    assert structure(msg) == expected
    assert not msg.defects
    assert all(not part.defects for part in msg.walk())
    assert extract_bodies(raw) == (request.text_body, request.html_body)


@pytest.mark.parametrize(("changes", "expected"), SHAPES.values(), ids=SHAPES.keys())
def test_headers_are_written_once_and_bcc_never(changes: dict[str, Any], expected: Any) -> None:
    raw = build(make_request(**changes))
    msg = parse(raw)
    assert msg["From"].addresses[0].display_name == "Tienda Ñandú"
    assert [a.addr_spec for a in msg["To"].addresses] == ["jose@example.es", "ana@example.com"]
    assert msg["To"].addresses[0].display_name == "José Pérez"
    assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [
        ("Doe, John", "copia@example.com")
    ]
    assert msg["Subject"] == "Tu pedido está en camino"
    assert msg["Date"] == format_datetime(DATE)
    assert msg["Message-ID"] == f"<{MESSAGE_ID}@tienda.example>"
    assert msg["MIME-Version"] == "1.0"
    for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(msg.get_all(name, [])) == 1
    # RFC 5322 §3.6.3: Bcc recipients are in the envelope only.
    assert msg["Bcc"] is None
    assert b"oculto@example.com" not in raw
    assert b"Secret Person" not in raw
    # Only the top level says MIME-Version (RFC 2045 §4).
    assert raw.count(b"MIME-Version") == 1


def test_ascii_mail_has_ascii_headers() -> None:
    raw = build(make_request(html_body=HTML, attachments=(LOGO, INVOICE)))
    assert raw.isascii()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header_block  # RFC 2047 encoded-words for the Spanish text


def test_headers_come_in_rfc_5322_order_then_custom_then_mime() -> None:
    request = make_request(
        reply_to=(Address("soporte@tienda.example"),),
        headers=(HeaderField("X-Campaign", "otoño"), HeaderField("X-Priority", "1")),
        html_body=HTML,
    )
    names = [name for name, _ in parse(build(request)).items()]
    assert names == [
        "From",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "X-Campaign",
        "X-Priority",
        "Content-Type",
    ]


def test_custom_headers_keep_their_values() -> None:
    headers = (
        HeaderField("X-Campaign", "otoño 2026"),
        HeaderField(
            "List-Unsubscribe", "<https://tienda.example/u/abc>, <mailto:u@tienda.example>"
        ),
        HeaderField("X-Tag", "a"),
        HeaderField("X-Tag", "b"),
    )
    msg = parse(build(make_request(headers=headers)))
    assert msg["X-Campaign"] == "otoño 2026"
    assert msg["List-Unsubscribe"] == headers[1].value
    assert msg.get_all("X-Tag") == ["a", "b"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HeaderField("Message-ID", "<x@y>"), "header 'Message-ID' is set by Misiva"),
        (HeaderField("bcc", "spy@example.com"), "header 'bcc' is set by Misiva"),
        (HeaderField("X-Evil", "1\r\nBcc: spy@example.com"), "Invalid 'X-Evil' value"),
        (HeaderField("Bad Name", "1"), "'Bad Name' is not a valid header name"),
    ],
)
def test_bad_custom_headers_are_refused(header: HeaderField, message: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        build(make_request(headers=(header,)))


def test_reply_to_header_conflicting_with_the_field_is_refused() -> None:
    request = make_request(
        reply_to=(Address("a@example.com"),), headers=(HeaderField("Reply-To", "b@example.com"),)
    )
    with pytest.raises(InvalidRequest, match="conflicts with the 'ReplyTo' field"):
        build(request)


def test_subject_with_line_break_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="Invalid 'Subject' value"):
        build(make_request(subject="Hola\r\nBcc: spy@example.com"))


def test_empty_subject_writes_no_subject_header() -> None:
    assert parse(build(make_request(subject="")))["Subject"] is None


def test_long_subject_is_folded_and_round_trips() -> None:
    subject = "Confirmación de tu pedido número 1234 — " * 8
    raw = build(make_request(subject=subject))
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    # RFC 5322 §2.1.1: header lines SHOULD stay within 78 characters.
    assert max(len(line) for line in header_block.split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == subject


def test_reply_to_may_hold_several_addresses() -> None:
    reply_to = (Address("a@example.com", "A"), Address("b@example.com"))
    msg = parse(build(make_request(reply_to=reply_to)))
    assert [(a.display_name, a.addr_spec) for a in msg["Reply-To"].addresses] == [
        ("A", "a@example.com"),
        ("", "b@example.com"),
    ]


def test_internationalised_domain_is_written_as_a_labels() -> None:
    raw = build(make_request(to=(Address("info@bücher.de", "Bücher"),), cc=()))
    assert raw.isascii()
    assert parse(raw)["To"].addresses[0].addr_spec == "info@xn--bcher-kva.de"


def test_utf8_local_part_writes_utf8_headers() -> None:
    # RFC 6532 §3.2: the mailbox cannot be encoded, so the headers are UTF-8 (SMTPUTF8 mail).
    raw = build(make_request(to=(Address("ñandú@correo.es", "Ñandú"),), cc=()))
    assert_wire_format(raw)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert "To: Ñandú <ñandú@correo.es>".encode() in header_block
    assert "Subject: Tu pedido está en camino".encode() in header_block
    assert extract_bodies(raw) == (TEXT, None)


def test_bcc_with_utf8_local_part_does_not_make_utf8_headers() -> None:
    raw = build(make_request(bcc=(Address("ñandú@correo.es"),)))
    assert raw.isascii()


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Plain ASCII.\nShort lines.\n", "7bit"),
        ("x" * 5000, "quoted-printable"),
        ("a=b and a NUL \0\n", "quoted-printable"),
        (TEXT, "quoted-printable"),
        ("Здравствуйте! Ваш заказ №1234 отправлен.\n" * 3, "base64"),
        ("ご注文ありがとうございます。\n", "base64"),
    ],
)
def test_text_encoding_is_chosen_by_content(text: str, encoding: str) -> None:
    raw = build(make_request(text_body=text))
    assert_wire_format(raw)
    msg = parse(raw)
    assert msg["Content-Transfer-Encoding"] == encoding
    assert msg.get_content_charset() == "utf-8"
    assert extract_bodies(raw) == (text, None)


def test_long_html_lines_are_quoted_printable_within_76() -> None:
    html = "<table>" + "<tr><td>número</td><td>1234</td></tr>" * 400 + "</table>"
    raw = build(make_request(text_body=None, html_body=html))
    assert_wire_format(raw)
    body = raw.split(b"\r\n\r\n", 1)[1]
    # RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters.
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert parse(raw)["Content-Transfer-Encoding"] == "quoted-printable"
    assert extract_bodies(raw) == (None, html)


@pytest.mark.parametrize(
    ("given", "returned"),
    [
        ("one\r\ntwo\r\n", "one\ntwo\n"),
        ("one\rtwo", "one\ntwo"),
        ("no final newline", "no final newline"),
        ("trailing spaces   \nend", "trailing spaces   \nend"),
        ("", ""),
        ("From the start\n.\n.. dots\n", "From the start\n.\n.. dots\n"),
    ],
)
def test_text_line_breaks_are_normalised(given: str, returned: str) -> None:
    for changes in (dict(), dict(html_body=HTML)):
        raw = build(make_request(text_body=given, **changes))
        assert_wire_format(raw)
        assert extract_bodies(raw)[0] == returned


def test_attachments_round_trip() -> None:
    raw = build(make_request(html_body=HTML, attachments=(LOGO, INVOICE)))
    parts = {part.get_content_type(): part for part in parse(raw).walk()}
    logo, invoice = parts["image/png"], parts["application/pdf"]
    assert logo.get_content() == LOGO.content
    assert logo["Content-ID"] == "<logo.png>"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_filename() == "logo.png"
    assert invoice.get_content() == INVOICE.content
    assert invoice.get_content_disposition() == "attachment"
    assert invoice.get_filename() == "factura número 7.pdf"
    assert invoice.get_param("name") == "factura número 7.pdf"
    assert invoice["Content-ID"] is None
    related = parts["multipart/related"]
    assert related.get_param("type") == "text/html"


def test_non_ascii_file_name_is_rfc_2231_encoded() -> None:
    raw = build(make_request(attachments=(INVOICE,)))
    assert b"filename*=utf-8''factura%20n%C3%BAmero%207.pdf" in raw


@pytest.mark.parametrize(
    ("content_id", "header"),
    [("cid:logo.png", "<logo.png>"), ("logo.png", "<logo.png>"), ("<a@b>", "<a@b>")],
)
def test_content_id_is_bare_in_angle_brackets(content_id: str, header: str) -> None:
    image = dataclasses.replace(LOGO, content_id=content_id)
    msg = parse(build(make_request(html_body=HTML, attachments=(image,))))
    [part] = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert part["Content-ID"] == header


@pytest.mark.parametrize("content_type", ["", "png", "image/png\r\nX-Evil: 1", "image /png"])
def test_bad_attachment_type_falls_back_to_octet_stream(content_type: str) -> None:
    attachment = dataclasses.replace(INVOICE, content_type=content_type)
    msg = parse(build(make_request(attachments=(attachment,))))
    assert structure(msg) == ("multipart/mixed", ["text/plain", "application/octet-stream"])


def test_attachment_type_parameters_are_kept() -> None:
    csv = Attachment("datos.csv", "año;mes\n".encode(), "text/csv; charset=utf-8")
    msg = parse(build(make_request(attachments=(csv,))))
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/csv"]
    assert part.get_content_charset() == "utf-8"
    assert part.get_content() == "año;mes\n"


def test_boundaries_are_distinct_and_absent_from_content() -> None:
    raw = build(make_request(html_body=HTML, attachments=(LOGO, INVOICE)))
    boundaries = re.findall(rb'boundary="([^"]+)"', raw)
    assert len(set(boundaries)) == 3
    for boundary in boundaries:
        # Each occurs only as its own delimiter lines: parts, then the close delimiter.
        lines = [line for line in raw.split(b"\r\n") if boundary in line]
        assert all(
            line in (b"--" + boundary, b"--" + boundary + b"--") or b"boundary=" in line
            for line in lines
        )


def test_no_bodies_gives_an_empty_text_part() -> None:
    raw = build(make_request(text_body=None, html_body=None))
    assert parse(raw).get_content_type() == "text/plain"
    assert extract_bodies(raw) == ("", None)


def test_extract_bodies_without_text_or_html() -> None:
    assert extract_bodies(build(make_request(text_body=None, html_body=HTML))) == (None, HTML)
    assert extract_bodies(build(make_request(text_body=TEXT, html_body=None))) == (TEXT, None)


def test_attachment_names_in_order() -> None:
    raw = build(make_request(html_body=HTML, attachments=(LOGO, INVOICE)))
    assert attachment_names(raw) == ["logo.png", "factura número 7.pdf"]
    assert attachment_names(build(make_request())) == []


def test_build_is_deterministic_apart_from_boundaries() -> None:
    request = make_request(html_body=HTML, attachments=(INVOICE,))
    first, second = build(request), build(request)
    strip = re.compile(rb"=_[0-9a-f]{32}")
    assert strip.sub(b"B", first) == strip.sub(b"B", second)


def test_bodies_without_attachments_are_written_as_the_stdlib_generator_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The direct writer of plain bodies gives the generic path's bytes, boundary aside."""
    monkeypatch.setattr(mime.secrets, "token_hex", lambda n: "5f" * n)
    chooser = random.Random(2045)
    pieces = ["Hola", " ", "ñandú ", "€", "\n", "\r\n", "\r", "x" * 90, ".", "From ", "=", "\t"]
    texts: list[str | None] = [None, "", "\n", "ascii only", "línea\n", "a" * 200, "日本語" * 30]
    texts += [
        "".join(chooser.choice(pieces) for _ in range(chooser.randrange(0, 30))) for _ in range(300)
    ]
    for text in texts:
        for html in (None, "<p>hola</p>", chooser.choice(texts)):
            request = make_request(text_body=text, html_body=html)
            assert mime._plain_body(request) == mime._body(request).as_bytes(), (text, html)
