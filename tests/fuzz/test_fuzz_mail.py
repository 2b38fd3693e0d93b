"""Fuzzing the mail mechanics with Hypothesis: the address parser, the header checks, send
validation with the MIME builder behind it, and reading an SMTP-submitted message back into
fields. Any input may be refused with InvalidRequest (the modules' declared error); nothing
may raise anything else, take longer than the per-example bound, or use unbounded memory."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime
from email.utils import formataddr

from fuzzing import any_of, bounded, budget, nested, peak_memory
from hypothesis import event, given
from hypothesis import strategies as st

from misiva.domain.errors import InvalidRequest
from misiva.domain.message import AttachmentFields, HeaderField, SendFields
from misiva.ingest.validate import validate_send
from misiva.mail.addresses import (
    check_header_name,
    check_header_value,
    parse_address_list,
    parse_single_address,
)
from misiva.mail.mime import attachment_names, build_mime, extract_bodies
from misiva.mail.submission import fields_from_message

DATE = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
refused = any_of(InvalidRequest)

# Text with the characters address and header parsers trip over: quotes, angle brackets,
# commas, encoded words, line breaks, NUL, surrogate-free astral characters, bidi controls.
TRICKY = st.sampled_from(
    [
        *'"<>,;:@\\()[]. \t\r\n\x00=?',
        *["=?utf-8?q?", "=?utf-8?b?", "?=", "=?x-unknown?q?a?=", "@[127.0.0.1]", "xn--"],
        *["José", "日本", "😀", "\u00ad", "\ufeff", "\u202e", "a" * 70],
    ]
)
FIELD_TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=12)), max_size=16).map("".join)
ADDRESS = st.one_of(
    st.emails().map(str),
    st.builds(lambda n, a: f'"{n}" <{a}>', FIELD_TEXT, st.emails()),
    st.builds(lambda n, a: f"{n} <{a}>", FIELD_TEXT, st.emails()),
    FIELD_TEXT,
)
ADDRESS_LIST = st.lists(ADDRESS, max_size=6).map(", ".join)


@budget(150)
@given(field=st.sampled_from(["From", "To", "Cc", "Bcc", "Reply-To"]), value=ADDRESS_LIST)
def test_address_parser_accepts_or_refuses_never_crashes(field: str, value: str) -> None:
    parsed = bounded(lambda: refused(lambda: parse_address_list(field, value)))
    for address in parsed or ():
        assert "\r" not in address.email and "\n" not in address.email
    bounded(lambda: refused(lambda: parse_single_address(field, value)))


@budget(150)
@given(name=st.one_of(st.none(), st.text(max_size=30), FIELD_TEXT), address=st.emails())
def test_a_well_formed_address_parses_back_to_itself(name: str | None, address: str) -> None:
    given = formataddr((name, address))
    parsed = bounded(lambda: refused(lambda: parse_address_list("To", given)))
    event("parsed" if parsed else "refused")
    if parsed:
        # The domain is written in lower case (domains are case-insensitive), the rest kept.
        local, _, domain = address.rpartition("@")
        assert [a.email for a in parsed] == [f"{local}@{domain.lower()}"]


@budget(100)
@given(name=FIELD_TEXT, value=FIELD_TEXT)
def test_header_checks_accept_or_refuse_never_crash(name: str, value: str) -> None:
    bounded(lambda: refused(lambda: check_header_name(name)))
    bounded(lambda: refused(lambda: check_header_value(name or "X", value)))


BODY = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.sampled_from(["x" * 2000 + "\n", "a" * 999 + " " + "b" * 999, ".\r\n.\r\n", "\r\n" * 50]),
)
ATTACHMENT = st.builds(
    AttachmentFields,
    name=st.one_of(st.none(), FIELD_TEXT),
    content=st.one_of(
        st.none(),
        st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
        FIELD_TEXT,
    ),
    content_type=st.one_of(st.none(), FIELD_TEXT, st.sampled_from(["text/plain", "a/b/c", "/"])),
    content_id=st.one_of(st.none(), FIELD_TEXT, st.just("cid:logo.png")),
)
NAMED = st.builds(formataddr, st.tuples(st.one_of(st.none(), FIELD_TEXT), st.emails()))
# Mostly sends that pass validation, so the MIME builder sees the odd content; the rest odd.
SEND = st.builds(
    SendFields,
    from_=st.one_of(NAMED, ADDRESS),
    to=st.one_of(st.lists(NAMED, min_size=1, max_size=4).map(", ".join), ADDRESS_LIST),
    cc=st.one_of(st.none(), st.lists(NAMED, max_size=3).map(", ".join)),
    subject=st.one_of(st.none(), FIELD_TEXT, st.text(), st.just("é" * 200)),
    html_body=BODY,
    text_body=st.one_of(st.text(min_size=1, max_size=300), BODY),
    reply_to=st.one_of(st.none(), NAMED),
    headers=st.lists(
        st.builds(HeaderField, st.sampled_from(["X-Tag", "X-Ñ", "List-Id"]), FIELD_TEXT),
        max_size=3,
    ).map(tuple),
    tag=st.one_of(st.none(), FIELD_TEXT),
    metadata=st.dictionaries(FIELD_TEXT, FIELD_TEXT, max_size=3),
    attachments=st.lists(ATTACHMENT, max_size=3).map(tuple),
)


def _build(fields: SendFields) -> bytes | None:
    request = validate_send(fields)
    return build_mime(request, message_id="fuzz-1", domain="tienda.example", date=DATE)


@budget(120)
@given(fields=SEND)
def test_a_send_is_refused_or_built_into_mime_that_parses_back(fields: SendFields) -> None:
    raw = bounded(lambda: refused(lambda: _build(fields)))
    event("built" if raw else "refused")
    if raw is None:
        return
    # Whatever was accepted is well-formed: it parses, and its parts are readable again.
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF in the built message"
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998, "a line over RFC 5322's 998 octets"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] and not parsed.defects
    bounded(lambda: extract_bodies(raw))
    bounded(lambda: attachment_names(raw))


HEADERS = b"From: Ana <ana@tienda.example>\r\nTo: bea@example.com\r\nSubject: hola\r\n"
LEAF = st.sampled_from(
    [
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nhola\r\n",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xff\xfe\r\n",
        b"Content-Type: text/html; charset=utf-7\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n",
        b"Content-Type: application/pdf; name==?utf-8?b?////?=\r\n"
        b"Content-Disposition: attachment; filename*=x''%FF\r\n\r\nAAAA\r\n",
        b"Content-Type: message/rfc822\r\n\r\nFrom: x\r\n\r\nbody\r\n",
        b"Content-Type: multipart/alternative\r\n\r\nno boundary at all\r\n",
    ]
)
RAW = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda h, b: h + b"\r\n" + b, st.binary(max_size=200), st.binary(max_size=200)),
    st.builds(lambda d, leaf: HEADERS + nested(d, leaf), st.integers(0, 60), LEAF),
    st.builds(lambda extra, leaf: HEADERS + extra + leaf, st.binary(max_size=100), LEAF),
)


@budget(120)
@given(raw=RAW, envelope=st.lists(st.emails(), max_size=3))
def test_a_submitted_message_is_read_or_refused_never_crashes(
    raw: bytes, envelope: list[str]
) -> None:
    bounded(lambda: refused(lambda: fields_from_message(raw, envelope)))


def test_huge_and_deeply_nested_submissions_stay_bounded() -> None:
    # 500 levels of multipart and a 5 MB body: time and memory stay bounded (the stdlib
    # parser is recursive; a stack overflow here would be a crash of the SMTP handler).
    deep = HEADERS + nested(500, b"Content-Type: text/plain\r\n\r\nhola\r\n")
    huge = HEADERS + b"Content-Type: text/plain\r\n\r\n" + (b"x" * 998 + b"\r\n") * 5000
    for raw in (deep, huge):
        with peak_memory(200 * 1024 * 1024):
            bounded(
                lambda raw=raw: refused(lambda: fields_from_message(raw, ["bea@example.com"])), 30
            )
