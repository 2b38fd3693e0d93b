"""Misiva's VERP return path, `b+<MessageID>@<bounce domain>`: build it for a message, and read
the message back from the address a bounce came back to."""

from __future__ import annotations

import uuid
from typing import Final

from misiva.domain.dns_checks import RETURN_PATH_LABEL

# The local part is "b+" and a 36-character UUID: 38 octets of RFC 5321 §4.1.2 atext, well
# inside the 64 that §4.5.3.1.1 allows. The UUID is random, so it needs no signature: a
# forged bounce would have to guess a live message's 122 random bits.
_PREFIX: Final = "b+"
# The mailto of List-Unsubscribe (RFC 2369 §3.2, RFC 8058 §3.2): the same random id, so the
# same reasoning makes it unforgeable; mail to it unsubscribes the message's recipient.
_UNSUBSCRIBE_PREFIX: Final = "u+"


def verp_address(message_id: str, bounce_domain: str) -> str:
    """The envelope sender (Return-Path) of one message; ValueError for a bad id or domain."""
    return _address(_PREFIX, message_id, bounce_domain)


def unsubscribe_address(message_id: str, bounce_domain: str) -> str:
    """The List-Unsubscribe mailto address of one message."""
    return _address(_UNSUBSCRIBE_PREFIX, message_id, bounce_domain)


def verp_message_id(address: str, bounce_domain: str) -> str | None:
    """The MessageID in a VERP address on `bounce_domain`, or None for any other address.

    Servers may change the case of a local part (RFC 5321 §2.4 lets them), so the match
    ignores case; the id comes back in its canonical lower-case form.
    """
    return _message_id(_PREFIX, address, bounce_domain)


def unsubscribe_message_id(address: str, bounce_domain: str) -> str | None:
    """The MessageID in an unsubscribe address on `bounce_domain`, or None."""
    return _message_id(_UNSUBSCRIBE_PREFIX, address, bounce_domain)


def _address(prefix: str, message_id: str, bounce_domain: str) -> str:
    domain = _normal_domain(bounce_domain)
    if not domain or any(char in domain for char in "@<>\\ \t\r\n"):
        raise ValueError(f"not a bounce domain: {bounce_domain!r}")
    return f"{prefix}{uuid.UUID(message_id)}@{domain}"


def _message_id(prefix: str, address: str, bounce_domain: str) -> str | None:
    local, at, domain = address.strip().strip("<>").strip().rpartition("@")
    if not at or not _ours(_normal_domain(domain), _normal_domain(bounce_domain)):
        return None
    if not local.lower().startswith(prefix):
        return None
    return _canonical_uuid(local[len(prefix) :])


def _ours(domain: str, bounce_domain: str) -> bool:
    """The bounce domain, or a sending domain's own Return-Path name (a CNAME to it, see
    mail.published): mail for both reaches this receiver. The random id in the local part
    is what ties an address to a message, whichever of the two domains it is on."""
    return domain == bounce_domain or domain.startswith(RETURN_PATH_LABEL + ".")


def message_id_from_header(value: str) -> str | None:
    """The MessageID in a Message-ID we wrote (`<uuid@domain>`, RFC 5322 §3.6.4) or in an
    X-Misiva-Message-ID value (the bare UUID); None for anyone else's."""
    return _canonical_uuid(value.strip().strip("<>").strip().partition("@")[0])


def _canonical_uuid(text: str) -> str | None:
    # uuid.UUID also takes braces, "urn:uuid:" and bare hex; only the form we write counts.
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    canonical = str(parsed)
    return canonical if canonical == text.lower() else None


def _normal_domain(domain: str) -> str:
    """Lower-case, without a root dot, internationalised names in their A-label form."""
    name = domain.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name
