"""Address fields parse, validate and format as Postmark's clients expect."""

from __future__ import annotations

import email.policy
from email.header import decode_header, make_header

import pytest

from misiva.domain.errors import InvalidRequest
from misiva.domain.message import Address
from misiva.mail.addresses import (
    check_header_name,
    check_header_value,
    format_address,
    parse_address_list,
    parse_single_address,
)

LINE_BREAK = "contains a line break (CR or LF), which is not allowed in a header."

VALID = [
    ("plain", "a@example.com", [("a@example.com", "")]),
    ("display name", "John Doe <john@example.com>", [("john@example.com", "John Doe")]),
    ("domain lower-cased", "John@Example.COM", [("John@example.com", "")]),
    (
        "quoted name with a comma",
        '"Doe, John" <john@example.com>, jane@example.org',
        [("john@example.com", "Doe, John"), ("jane@example.org", "")],
    ),
    ("quoted pair in a name", r'"Say \"hi\"" <a@example.com>', [("a@example.com", 'Say "hi"')]),
    ("phrase mixing quotes", 'John "JJ" Doe <a@example.com>', [("a@example.com", "John JJ Doe")]),
    ("UTF-8 name", "José Pérez <jose@example.es>", [("jose@example.es", "José Pérez")]),
    ("RFC 2047 name", "=?utf-8?q?Jos=C3=A9?= <jose@example.es>", [("jose@example.es", "José")]),
    ("UTF-8 local part", "ñandú@correo.es", [("ñandú@correo.es", "")]),
    ("IDN domain", "Info <info@Bücher.DE>", [("info@bücher.de", "Info")]),
    ("plus and subdomains", "user+tag@mail.example.co.uk", [("user+tag@mail.example.co.uk", "")]),
    ("apostrophe", "O'Brien <o'brien@example.ie>", [("o'brien@example.ie", "O'Brien")]),
    (
        "comment in a name",
        "Support (Acme) <help@acme.example>",
        [("help@acme.example", "Support (Acme)")],
    ),
    ("angle brackets only", "<a@example.com>", [("a@example.com", "")]),
    (
        "empty entries skipped",
        "a@example.com, , b@example.com,",
        [("a@example.com", ""), ("b@example.com", "")],
    ),
]


@pytest.mark.parametrize(("case", "value", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_address_lists_parse(case: str, value: str, expected: list[tuple[str, str]]) -> None:
    parsed = parse_address_list("To", value)
    assert [(a.email, a.name) for a in parsed] == expected


INVALID = [
    ("To", "invalid@localhost", "Invalid 'To' address: 'invalid@localhost'."),
    ("Cc", "user@+", "Error parsing 'Cc': Illegal email domain '+' in address 'user@+'."),
    (
        "Reply-To",
        "invalid@+",
        "Error parsing 'Reply-To': Illegal email domain '+' in address 'invalid@+'.",
    ),
    ("From", "invalid@localhost", "Invalid 'From' address: 'invalid@localhost'."),
    ("To", "no-at-sign.example.com", "Invalid 'To' address: 'no-at-sign.example.com'."),
    ("To", "@example.com", "Invalid 'To' address: '@example.com'."),
    ("To", "user@", "Invalid 'To' address: 'user@'."),
    ("To", "a@@example.com", "Invalid 'To' address: 'a@@example.com'."),
    ("To", "john doe@example.com", "Invalid 'To' address: 'john doe@example.com'."),
    ("To", '"john doe"@example.com', "Invalid 'To' address: '\"john doe\"@example.com'."),
    ("To", "a@-example.com", "Invalid 'To' address: 'a@-example.com'."),
    ("To", "a@example..com", "Invalid 'To' address: 'a@example..com'."),
    ("To", "a@1.2.3.4", "Invalid 'To' address: 'a@1.2.3.4'."),
    (
        "To",
        "a@exa_mple.com",
        "Error parsing 'To': Illegal email domain 'exa_mple.com' in address 'a@exa_mple.com'.",
    ),
    (
        "To",
        "a@[192.0.2.1]",
        "Error parsing 'To': Illegal email domain '[192.0.2.1]' in address 'a@[192.0.2.1]'.",
    ),
    ("To", "x" * 65 + "@example.com", f"Invalid 'To' address: '{'x' * 65}@example.com'."),
    ("To", "a@example.com b@example.com", "Invalid 'To' address: 'a@example.com b@example.com'."),
    ("To", "a@example.com;b@example.com", "Invalid 'To' address: 'a@example.com;b@example.com'."),
    ("To", "John <a@example.com", "Invalid 'To' address: 'John <a@example.com'."),
    ("To", "John <a@example.com> junk", "Invalid 'To' address: 'John <a@example.com> junk'."),
    ("To", '"Unbalanced <a@example.com>', "Invalid 'To' address: '\"Unbalanced <a@example.com>'."),
    (
        "To",
        "alice@example.org)<bob@example.org>",
        "Invalid 'To' address: 'alice@example.org)<bob@example.org>'.",
    ),
    ("To", "a\x00b@example.com", "Invalid 'To' address: 'a\x00b@example.com'."),
    ("Bcc", "ok@example.com, bad@localhost", "Invalid 'Bcc' address: 'bad@localhost'."),
    ("To", "a@example.com\r\nBcc: spy@example.com", f"Invalid 'To' value: it {LINE_BREAK}"),
    ("Cc", "a@example.com\nBcc: spy@example.com", f"Invalid 'Cc' value: it {LINE_BREAK}"),
    ("To", "John\r <a@example.com>", f"Invalid 'To' value: it {LINE_BREAK}"),
]


@pytest.mark.parametrize(("field", "value", "message"), INVALID)
def test_invalid_addresses_are_refused_in_postmarks_words(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_address_list(field, value)
    assert caught.value.message == message
    assert caught.value.error_code == 300


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_optional_field_gives_no_addresses(value: str | None) -> None:
    assert parse_address_list("Cc", value) == ()


@pytest.mark.parametrize("value", [None, "", "   ", " , "])
def test_absent_required_field_is_refused(value: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_address_list("From", value, required=True)
    assert caught.value.message.startswith("Invalid 'From' address: '")


def test_missing_from_message() -> None:
    with pytest.raises(InvalidRequest, match=r"^Invalid 'From' address: ''\.$"):
        parse_single_address("From", None)


def test_single_address_parses_display_name() -> None:
    assert parse_single_address("From", "Tienda <ventas@tienda.example>") == Address(
        "ventas@tienda.example", "Tienda"
    )


def test_single_address_refuses_two() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_single_address("From", "a@example.com, b@example.com")
    assert caught.value.message == "Invalid 'From' address: 'a@example.com, b@example.com'."


@pytest.mark.parametrize("name", ["X-Campaign", "List-Unsubscribe", "Reply-To", "X-A_b.c"])
def test_custom_header_names_accepted(name: str) -> None:
    check_header_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Invalid 'Headers' value: '' is not a valid header name"),
        ("X Bad", "Invalid 'Headers' value: 'X Bad' is not a valid header name"),
        ("X:Bad", "Invalid 'Headers' value: 'X:Bad' is not a valid header name"),
        ("Cañón", "Invalid 'Headers' value: 'Cañón' is not a valid header name"),
        (
            "Message-ID",
            "Invalid 'Headers' value: header 'Message-ID' is set by Misiva "
            "and cannot be overridden.",
        ),
        ("message-id", "header 'message-id' is set by Misiva"),
        ("DKIM-Signature", "header 'DKIM-Signature' is set by Misiva"),
        ("BCC", "header 'BCC' is set by Misiva"),
        ("Content-Type", "header 'Content-Type' is set by Misiva"),
        ("Return-Path", "header 'Return-Path' is set by Misiva"),
    ],
)
def test_custom_header_names_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_header_name(name)
    assert message in caught.value.message


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nX-Injected: 1"])
def test_header_value_line_breaks_refused(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_header_value("Subject", value)
    assert caught.value.message == f"Invalid 'Subject' value: it {LINE_BREAK}"


def test_header_value_without_line_breaks_passes() -> None:
    check_header_value("Subject", "Tu pedido está en camino\t(#1234)")


FORMATTED = [
    (Address("a@example.com"), "a@example.com"),
    (Address("a@example.com", "John Doe"), "John Doe <a@example.com>"),
    (Address("a@example.com", "Doe, John"), '"Doe, John" <a@example.com>'),
    (Address("a@example.com", 'Say "hi"'), r'"Say \"hi\"" <a@example.com>'),
    (Address("a@example.com", "J. Doe"), '"J. Doe" <a@example.com>'),
    (Address("a@example.com", "=?not encoded?="), '"=?not encoded?=" <a@example.com>'),
    (Address("info@bücher.de"), "info@xn--bcher-kva.de"),
    (Address("ñandú@correo.es", "Ñandú"), "Ñandú <ñandú@correo.es>"),
]


@pytest.mark.parametrize(("address", "expected"), FORMATTED)
def test_format_address(address: Address, expected: str) -> None:
    assert format_address(address) == expected


@pytest.mark.parametrize(
    "name",
    [
        "José Pérez",
        "Departamento de atención al cliente de la tienda número uno de España, S.L.",
        "Служба поддержки",
    ],
)
def test_format_address_encodes_non_ascii_names(name: str) -> None:
    formatted = format_address(Address("help@example.com", name))
    assert formatted.isascii()
    # RFC 2047 §2: no encoded-word is longer than 75 characters.
    assert all(len(word) <= 75 for word in formatted.split())
    encoded_name = formatted.rpartition(" <")[0]
    # Decoded as RFC 2047 §6.2 says (the stdlib's header registry keeps the space between
    # two encoded-words of a phrase, a bug of its own that build_mime steers clear of).
    assert str(make_header(decode_header(encoded_name))) == name
    assert parse_address_list("To", formatted) == (Address("help@example.com", name),)


@pytest.mark.parametrize("value", [v[1] for v in VALID if v[0] != "IDN domain"])
def test_formatted_addresses_parse_back_to_themselves(value: str) -> None:
    parsed = parse_address_list("To", value)
    formatted = ", ".join(format_address(a) for a in parsed)
    assert parse_address_list("To", formatted) == parsed


def test_formatted_list_is_what_the_stdlib_reads() -> None:
    addresses = parse_address_list("To", '"Doe, John" <john@example.com>, José <jose@example.es>')
    header = email.policy.default.header_factory("To", ", ".join(map(format_address, addresses)))
    assert [(a.display_name, a.addr_spec) for a in header.addresses] == [
        ("Doe, John", "john@example.com"),
        ("José", "jose@example.es"),
    ]
