"""DKIM signatures made here verify, and stop verifying once the message is tampered with."""

from __future__ import annotations

import base64
import random
import re
from datetime import UTC, datetime

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import Relaxed

from misiva.domain.dkim_keys import KeyAlgorithm, new_selector
from misiva.domain.message import Address, HeaderField, SendRequest
from misiva.mail.dkim import (
    DkimError,
    DkimKey,
    _split,
    generate_key,
    headers_to_sign,
    relaxed_body,
    sign,
    sign_all,
    signatures,
    verify,
    verify_each,
)
from misiva.mail.mime import build_mime

DOMAIN = "tienda.example"
SELECTOR = "misiva202611"


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return generate_key(SELECTOR)


@pytest.fixture(scope="module")
def records(key: DkimKey) -> dict[str, str]:
    return {f"{SELECTOR}._domainkey.{DOMAIN}": key.public_txt}


def message(**changes: object) -> bytes:
    fields: dict[str, object] = dict(
        sender=Address(f"ventas@{DOMAIN}", "Tienda"),
        to=(Address("jose@example.es", "José Pérez"),),
        cc=(Address("ana@example.com"),),
        bcc=(),
        subject="Tu pedido está en camino",
        html_body="<p>Hola José, tu pedido está en camino.</p>",
        text_body="Hola José, tu pedido está en camino.\n",
        reply_to=(Address(f"soporte@{DOMAIN}"),),
        headers=(HeaderField("List-Unsubscribe", f"<https://{DOMAIN}/u/abc>"),),
        tag=None,
        metadata={},
        attachments=(),
        stream="outbound",
        track_opens=None,
        track_links=None,
        to_given="jose@example.es",
    )
    fields.update(changes)
    request = SendRequest(**fields)  # type: ignore[arg-type]
    date = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    return build_mime(request, message_id="0193a0c2", domain=DOMAIN, date=date)


def signed(key: DkimKey, raw: bytes | None = None) -> bytes:
    raw = message() if raw is None else raw
    return sign(raw, domain=DOMAIN, selector=key.selector, private_key_pem=key.private_key_pem)


def signature_tags(signed_message: bytes) -> dict[str, str]:
    header = signed_message.split(b"\r\n\r\n", 1)[0].decode()
    value = re.match(r"DKIM-Signature:(.*?)\r\n(?![ \t])", header, re.S)
    assert value is not None
    unfolded = re.sub(r"\s+", "", value.group(1))
    return dict(tag.split("=", 1) for tag in unfolded.split(";") if tag)


def test_signed_message_verifies(key: DkimKey, records: dict[str, str]) -> None:
    assert verify(signed(key), records)


def test_signature_is_prepended_with_the_promised_tags(key: DkimKey) -> None:
    raw = message()
    result = signed(key, raw)
    assert result.startswith(b"DKIM-Signature: ")
    assert result.endswith(raw)
    tags = signature_tags(result)
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"]) == (DOMAIN, SELECTOR)
    signed_names = tags["h"].split(":")
    for name in ("from", "to", "cc", "subject", "date", "message-id", "mime-version"):
        assert name in signed_names
    assert {"content-type", "reply-to", "list-unsubscribe"} <= set(signed_names)
    assert signed_names.count("from") == 2  # oversigned: a second From cannot be added


def test_signed_message_uses_crlf_only(key: DkimKey) -> None:
    result = signed(key)
    assert result.count(b"\n") == result.count(b"\r\n") == result.count(b"\r")


def test_bare_lf_input_is_signed_as_crlf(key: DkimKey, records: dict[str, str]) -> None:
    result = signed(key, message().replace(b"\r\n", b"\n"))
    assert result.count(b"\n") == result.count(b"\r\n")
    assert verify(result, records)


def test_tampered_subject_fails(key: DkimKey, records: dict[str, str]) -> None:
    result = signed(key)
    assert b"Subject: =?utf-8?q?Tu_pedido" in result
    assert not verify(result.replace(b"?q?Tu_pedido", b"?q?Su_pedido"), records)


def test_tampered_body_fails(key: DkimKey, records: dict[str, str]) -> None:
    result = signed(key)
    assert b"Hola Jos=C3=A9" in result
    assert not verify(result.replace(b"Hola Jos=C3=A9", b"Hola Juan"), records)


@pytest.mark.parametrize("added", [b"From: ceo@tienda.example", b"Subject: Urgent: wire money"])
def test_added_second_header_fails(key: DkimKey, records: dict[str, str], added: bytes) -> None:
    # RFC 6376 §8.15: without oversigning, the added field would be the one a reader sees.
    head, body = signed(key).split(b"\r\n\r\n", 1)
    assert not verify(head + b"\r\n" + added + b"\r\n\r\n" + body, records)


def test_relaxed_canonicalisation_survives_refolding(key: DkimKey, records: dict[str, str]) -> None:
    # RFC 6376 §3.4.2: relays may change whitespace and folding of header fields.
    result = signed(key).replace(b"Subject: ", b"Subject:    ")
    result = result.replace(b"MIME-Version: 1.0", b"MIME-Version:\r\n 1.0")
    assert verify(result, records)


def test_wrong_or_missing_key_fails(key: DkimKey) -> None:
    other = generate_key(SELECTOR, bits=1024)
    assert not verify(signed(key), {f"{SELECTOR}._domainkey.{DOMAIN}": other.public_txt})
    assert not verify(signed(key), {})
    assert not verify(message(), {f"{SELECTOR}._domainkey.{DOMAIN}": key.public_txt})


def test_record_names_match_with_trailing_dot_and_any_case(key: DkimKey) -> None:
    name = f"{SELECTOR.upper()}._DomainKey.{DOMAIN.upper()}."
    assert verify(signed(key), {name: key.public_txt})


def test_utf8_headers_sign_and_verify(key: DkimKey, records: dict[str, str]) -> None:
    raw = message(to=(Address("ñandú@correo.es", "Ñandú"),))
    assert "ñandú@correo.es".encode() in raw
    assert verify(signed(key, raw), records)


def test_pkcs8_key_is_accepted(key: DkimKey, records: dict[str, str]) -> None:
    private = serialization.load_pem_private_key(key.private_key_pem, password=None)
    pkcs8 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    result = sign(message(), domain=DOMAIN, selector=SELECTOR, private_key_pem=pkcs8)
    assert verify(result, records)


def test_idn_domain_signs_as_a_labels(key: DkimKey) -> None:
    result = sign(
        message(), domain="Bücher.de", selector=SELECTOR, private_key_pem=key.private_key_pem
    )
    assert signature_tags(result)["d"] == "xn--bcher-kva.de"
    assert verify(result, {f"{SELECTOR}._domainkey.xn--bcher-kva.de": key.public_txt})


@pytest.mark.parametrize("pem", [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END"])
def test_unusable_key_raises_dkim_error(pem: bytes) -> None:
    with pytest.raises(DkimError):
        sign(message(), domain=DOMAIN, selector=SELECTOR, private_key_pem=pem)


def test_generated_key_publishes_its_public_half(key: DkimKey) -> None:
    assert key.selector == SELECTOR
    assert key.private_key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    prefix = "v=DKIM1; k=rsa; p="
    assert key.public_txt.startswith(prefix)
    public = serialization.load_der_public_key(base64.b64decode(key.public_txt[len(prefix) :]))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    private = serialization.load_pem_private_key(key.private_key_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.public_key().public_numbers() == public.public_numbers()


def test_new_selector_names_the_day_and_algorithm_and_never_repeats() -> None:
    day = datetime(2026, 11, 3, tzinfo=UTC)
    assert new_selector(day, KeyAlgorithm.RSA, set()) == "misiva20261103"
    assert new_selector(day, KeyAlgorithm.ED25519, set()) == "misiva20261103e"
    taken = {"misiva20261103", "misiva20261103-2"}
    assert new_selector(day, KeyAlgorithm.RSA, taken) == "misiva20261103-3"


def test_an_ed25519_key_and_an_rsa_key_sign_twice_and_both_verify(key: DkimKey) -> None:
    ed = generate_key("misiva20261103e", algorithm=KeyAlgorithm.ED25519)
    # RFC 8463 §4: the public key is the bare 32 octets, base64.
    assert ed.public_txt.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(ed.public_txt.rsplit("p=", 1)[1])) == 32
    signed = sign_all(message(), domain=DOMAIN, keys=[key, ed])
    assert signatures(signed) == [
        (DOMAIN, SELECTOR, "rsa-sha256"),
        (DOMAIN, "misiva20261103e", "ed25519-sha256"),
    ]
    txt = {
        f"{SELECTOR}._domainkey.{DOMAIN}": key.public_txt,
        f"misiva20261103e._domainkey.{DOMAIN}": ed.public_txt,
    }
    assert verify_each(signed, txt) == [True, True]
    # Another Ed25519 key published at the selector: that signature alone fails.
    other = generate_key("x", algorithm=KeyAlgorithm.ED25519).public_txt
    assert verify_each(signed, {**txt, f"misiva20261103e._domainkey.{DOMAIN}": other}) == [
        True,
        False,
    ]
    tampered = signed.replace(b"jose@example.es", b"jose@example.org")
    assert verify_each(tampered, txt) == [False, False]


def test_a_key_of_the_wrong_algorithm_is_refused(key: DkimKey) -> None:
    with pytest.raises(DkimError, match="not an Ed25519 key"):
        sign(
            message(),
            domain=DOMAIN,
            selector="s",
            private_key_pem=key.private_key_pem,
            algorithm=KeyAlgorithm.ED25519,
        )


def test_headers_to_sign_lists_present_fields_once_more() -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nReceived: x\r\n"
        b"References: <1@x>\r\n <2@x>\r\nReferences: <3@x>\r\nX-Other: 1\r\n\r\nbody\r\n"
    )
    assert headers_to_sign(raw) == [b"from", b"from", b"to", b"to"] + [b"references"] * 3


def test_relaxed_body_matches_dkimpy_on_many_bodies() -> None:
    """Misiva's fast relaxed body canonicalisation is byte-identical to dkimpy's."""
    pieces = [b"a", b"xyz", b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n\r\n", b"\r", b"\n", b"="]
    chooser = random.Random(6376)
    bodies = [b"", b"\r\n", b"\r\n\r\n", b" ", b"\t\r\n", b"a", b"a \r\n \r\n\r\n"]
    bodies += [
        b"".join(chooser.choice(pieces) for _ in range(chooser.randrange(0, 40)))
        for _ in range(5000)
    ]
    for body in bodies:
        assert relaxed_body(body) == Relaxed.canonicalize_body(body), body


def test_signing_parses_only_the_header_block_yet_agrees_with_dkimpy() -> None:
    message = (
        b"From: a@shop.test\r\nSubject: folded\r\n  line\r\nTo: b@example.com\r\n\r\n"
        b"body  line \r\n\r\nFrom the start\r\n\r\n"
    )
    assert _split(message) == tuple(dkimpy.rfc822_parse(message))
    assert _split(b"From: a@shop.test\r\n") == tuple(dkimpy.rfc822_parse(b"From: a@shop.test\r\n"))
