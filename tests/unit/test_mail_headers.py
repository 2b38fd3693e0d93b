"""Header fields are encoded and folded so that every reader gets back exactly what was sent."""

from __future__ import annotations

import email
import email.policy
import random
from email.header import decode_header, make_header

import pytest

from misiva.domain.message import Address
from misiva.mail.headers import address_list, unstructured

WORDS = ["Confirmación", "de", "tu", "pedido", "número", "1234", "—", "España", "atención", "al"]
WORDS += ["cliente", "ñandú", "S.L.", "a", "bb", "Ünïcode", "x" * 20, "¡Hola!", "(#5)", "año:"]


def lines(field: str) -> list[str]:
    assert field.endswith("\r\n")
    return field[:-2].split("\r\n")


def assert_well_folded(field: str) -> None:
    """RFC 5322 §2.2.3: continuation lines start with WSP, none is only WSP.

    §2.1.1: every line fits 998 octets, and 78 unless it holds a single word that cannot be
    folded (a 75-character encoded-word after "From: ", say).
    """
    assert "\n" not in field.replace("\r\n", "")
    first, *rest = lines(field)
    assert all(line[:1] in (" ", "\t") and line.strip() for line in rest)
    for line in [first, *rest]:
        assert len(line.encode()) <= 998
        assert len(line.encode()) <= 78 or len(line.split(": ", 1)[-1].split()) == 1


def value_of(field: str) -> str:
    """The field's value, unfolded and RFC 2047-decoded (email.header follows §6.2)."""
    raw = field[:-2].replace("\r\n", "").split(":", 1)[1]
    return str(make_header(decode_header(raw.removeprefix(" "))))


def parsed(field: str, name: str) -> str:
    msg = email.message_from_string(field + "\r\n", policy=email.policy.default)
    return str(msg[name])


def random_subjects(count: int) -> list[str]:
    rng = random.Random(5322)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 40))) for _ in range(count)]


def test_short_ascii_stays_as_it_is() -> None:
    assert unstructured("Subject", "Your order") == "Subject: Your order\r\n"


def test_empty_value() -> None:
    assert unstructured("X-Empty", "") == "X-Empty:\r\n"


def test_long_ascii_is_folded_at_spaces_only() -> None:
    value = "Your order number 1234 from the shop  has shipped and will arrive soon " * 4
    field = unstructured("Subject", value)
    assert field.isascii() and "=?" not in field
    assert_well_folded(field)
    assert field[len("Subject: ") : -2].replace("\r\n", "") == value


@pytest.mark.parametrize("value", random_subjects(300))
def test_non_ascii_round_trips_through_any_reader(value: str) -> None:
    field = unstructured("Subject", value)
    assert field.isascii()
    assert_well_folded(field)
    assert value_of(field) == value
    assert parsed(field, "Subject") == value


@pytest.mark.parametrize(
    "value",
    [
        "Use =?utf-8?q?hi?= literally",  # would otherwise be decoded by readers
        "bell \x07 inside",
        "w" * 2000,  # one word no line can hold: encoded-words split it
        "tab\tseparated\tvalues",
    ],
)
def test_unsafe_ascii_is_encoded(value: str) -> None:
    field = unstructured("X-Note", value)
    assert_well_folded(field)
    assert value_of(field) == value


def test_tab_alone_is_not_a_reason_to_encode() -> None:
    assert unstructured("X-Note", "a\tb") == "X-Note: a\tb\r\n"


def test_utf8_mail_keeps_utf8_and_folds_at_spaces() -> None:
    value = "Confirmación de tu pedido número 1234 — " * 5
    field = unstructured("Subject", value, utf8=True)
    assert "=?" not in field
    assert field[len("Subject: ") : -2].replace("\r\n", "") == value
    rest = lines(field)[1:]
    assert rest and all(line.startswith(" ") and line.strip() for line in rest)


def test_address_list_folds_between_mailboxes() -> None:
    addresses = [Address(f"user{i}@example.com", f"Usuario número {i}") for i in range(20)]
    field = address_list("To", addresses)
    assert field.isascii()
    assert_well_folded(field)
    msg = email.message_from_string(field + "\r\n", policy=email.policy.default)
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        (a.name, a.email) for a in addresses
    ]


def test_address_list_with_long_names_decodes_per_rfc_2047() -> None:
    name = "Departamento de atención al cliente de la tienda número uno de España, S.L."
    field = address_list("From", [Address("help@example.com", name)])
    assert_well_folded(field)
    encoded_name = field[len("From: ") : -2].replace("\r\n", "").rpartition(" <")[0]
    assert str(make_header(decode_header(encoded_name))) == name
