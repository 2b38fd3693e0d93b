"""The VERP return path carries a message's id out and brings it back with its bounce."""

from __future__ import annotations

import uuid

import pytest

from misiva.bounces import message_id_from_header, verp_address, verp_message_id

MESSAGE_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
DOMAIN = "bounces.example.com"


def test_the_address_is_b_plus_the_message_id_at_the_bounce_domain() -> None:
    assert verp_address(MESSAGE_ID, DOMAIN) == f"b+{MESSAGE_ID}@{DOMAIN}"


def test_every_message_id_round_trips() -> None:
    for _ in range(200):
        message_id = str(uuid.uuid4())
        assert verp_message_id(verp_address(message_id, DOMAIN), DOMAIN) == message_id


@pytest.mark.parametrize(
    "address",
    [
        f"<b+{MESSAGE_ID}@{DOMAIN}>",
        f"B+{MESSAGE_ID.upper()}@BOUNCES.EXAMPLE.COM",  # RFC 5321 §2.4: case may change
        f" b+{MESSAGE_ID}@{DOMAIN}. ",
    ],
)
def test_the_id_is_read_back_however_a_server_spells_the_address(address: str) -> None:
    assert verp_message_id(address, DOMAIN) == MESSAGE_ID


@pytest.mark.parametrize(
    "address",
    [
        f"b+{MESSAGE_ID}@other.example.com",
        f"x+{MESSAGE_ID}@{DOMAIN}",
        f"b+{MESSAGE_ID.replace('-', '')}@{DOMAIN}",
        f"b+{{{MESSAGE_ID}}}@{DOMAIN}",
        f"b+{MESSAGE_ID}x@{DOMAIN}",
        f"b+@{DOMAIN}",
        f"b+{MESSAGE_ID}",
        "postmaster@bounces.example.com",
        "",
    ],
)
def test_anything_else_is_not_a_verp_address(address: str) -> None:
    assert verp_message_id(address, DOMAIN) is None


def test_an_internationalised_bounce_domain_matches_its_a_label() -> None:
    address = verp_address(MESSAGE_ID, "rebotes.ñandú.example")
    assert address == f"b+{MESSAGE_ID}@rebotes.xn--and-6ma2c.example"
    assert verp_message_id(address, "rebotes.ñandú.example") == MESSAGE_ID


@pytest.mark.parametrize(
    ("message_id", "domain"),
    [("not-a-uuid", DOMAIN), (MESSAGE_ID, ""), (MESSAGE_ID, "a@b.example"), (MESSAGE_ID, "a b")],
)
def test_building_refuses_what_is_not_an_id_or_a_domain(message_id: str, domain: str) -> None:
    with pytest.raises(ValueError):
        verp_address(message_id, domain)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"<{MESSAGE_ID}@mail.example.com>", MESSAGE_ID),
        (MESSAGE_ID.upper(), MESSAGE_ID),
        ("<20240624090001.44587.qmail@nq.example.jp>", None),
        ("", None),
    ],
)
def test_our_message_ids_are_recognised_in_headers(value: str, expected: str | None) -> None:
    assert message_id_from_header(value) == expected
