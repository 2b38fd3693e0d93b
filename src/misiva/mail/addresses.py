"""Parse, validate and format the address and header fields of a send, in Postmark's terms."""

from __future__ import annotations

import re
from email.charset import Charset
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header

from misiva.domain.errors import InvalidRequest
from misiva.domain.message import Address

# RFC 5322 §3.2.3 atext (which Postmark's documented mailbox pattern is a subset of) plus
# ".", accepted anywhere because Postmark's pattern does and old mobile-carrier addresses
# such as "a..b@docomo.ne.jp" still exist. RFC 6532 §3.2 adds any non-ASCII character.
_LOCAL_ASCII = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+-/=?^_`{|}~"
)
# Postmark's documented domain pattern `^((\.)?[a-zA-Z0-9\-])+$`, plus non-ASCII characters
# for internationalised domain names (RFC 5890), which the IDNA check below then vets.
_DOMAIN_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
# Length limits of RFC 5321 §4.5.3.1.1 (local part) and §4.5.3.1.2 (domain), RFC 1035 §2.3.4.
_MAX_LOCAL_OCTETS = 64
_MAX_DOMAIN_OCTETS = 253
_MAX_LABEL_OCTETS = 63

# Headers that Misiva writes itself: letting a caller's `Headers` override them would break
# the message (MIME structure), its signature (RFC 6376) or the envelope it was accepted for.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "DKIM-Signature",
        "Return-Path",
    )
)

# RFC 5322 §3.2.3 specials (plus "=?", which a reader could take for an RFC 2047
# encoded-word): a display name containing one must be written as a quoted-string.
_NEEDS_QUOTES = re.compile(r'[][\\()<>@,:;".]|=\?|^\s|\s$')
_UTF8 = Charset("utf-8")
# One quoted-string (RFC 5322 §3.2.4) or a run of text outside quotes.
_PHRASE_WORD = re.compile(r'("(?:[^"\\]|\\.)*")|([^"]+)')
_QUOTED_PAIR = re.compile(r"\\(.)")


def check_header_value(field: str, value: str) -> None:
    """Refuse a header value with CR or LF: it would start a new header (header injection)."""
    if "\r" in value or "\n" in value:
        raise InvalidRequest(
            f"Invalid '{field}' value: it contains a line break (CR or LF), "
            "which is not allowed in a header."
        )


def check_header_name(name: str) -> None:
    """Refuse a custom header name that is not an RFC 5322 field-name or that Misiva sets itself."""
    # RFC 5322 §2.2: a field name is one or more printable US-ASCII characters except ":".
    if not name or any(not 33 <= ord(ch) <= 126 or ch == ":" for ch in name):
        raise InvalidRequest(
            f"Invalid 'Headers' value: '{name}' is not a valid header name "
            "(printable ASCII characters other than ':' only)."
        )
    if name.lower() in RESERVED_HEADERS:
        raise InvalidRequest(
            f"Invalid 'Headers' value: header '{name}' is set by Misiva and cannot be overridden."
        )


def parse_address_list(
    field: str, value: str | None, *, required: bool = False
) -> tuple[Address, ...]:
    """Parse a comma-separated Postmark address field; an absent field gives no addresses."""
    if value is None or not value.strip():
        if required:
            raise InvalidRequest(f"Invalid '{field}' address: ''.")
        return ()
    check_header_value(field, value)
    addresses = []
    for chunk in _split_list(value):
        if chunk:
            addresses.append(_parse_one(field, chunk))
    if required and not addresses:
        raise InvalidRequest(f"Invalid '{field}' address: '{value.strip()}'.")
    return tuple(addresses)


def parse_single_address(field: str, value: str | None) -> Address:
    """Parse a field that holds exactly one address, such as From."""
    addresses = parse_address_list(field, value, required=True)
    if len(addresses) != 1:
        raise InvalidRequest(f"Invalid '{field}' address: '{(value or '').strip()}'.")
    return addresses[0]


def ascii_domain(domain: str) -> str:
    """The domain in ASCII (A-label) form, lower-cased; raises UnicodeError when it is not valid.

    Python's "idna" codec implements IDNA 2003 (RFC 3490), the one the stdlib has; it
    differs from IDNA 2008 (RFC 5891) only for a few characters such as "ß" and "ς".
    """
    domain = domain.lower()
    if domain.isascii():
        return domain
    return domain.encode("idna").decode("ascii")


def header_mailbox(address: Address) -> tuple[str, str]:
    """(local part, domain) as a header writes them.

    An ASCII local part keeps the header ASCII, so an internationalised domain is written
    as A-labels (RFC 5890 §2.3.2.1). A non-ASCII local part has no ASCII form, and RFC 2047 §5
    forbids encoded-words in an addr-spec, so such a mailbox stays UTF-8 throughout, as
    RFC 6532 §3.2 allows for SMTPUTF8 mail.
    """
    local, _, domain = address.email.rpartition("@")
    if local.isascii():
        return local, ascii_domain(domain)
    return local, domain


def format_address(address: Address) -> str:
    """The address as an RFC 5322 mailbox, display name RFC 2047 encoded when not ASCII."""
    local, domain = header_mailbox(address)
    spec = f"{local}@{domain}"
    name = address.name
    if not name:
        return spec
    if name.isascii() or not local.isascii():
        if _NEEDS_QUOTES.search(name):
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            name = f'"{escaped}"'
        return f"{name} <{spec}>"
    # RFC 2047 §2 caps an encoded-word at 75 characters: Header splits a long name into
    # several, joined by one space, where a header writer can fold.
    encoded = Header(name, _UTF8, maxlinelen=75).encode(linesep="")
    return f"{encoded} <{spec}>"


def _split_list(value: str) -> list[str]:
    """Split an address list on the commas that are outside quotes, angle brackets and comments."""
    chunks: list[str] = []
    start = 0
    quoted = escaped = False
    angle = paren = 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "<>":
            angle += 1 if ch == "<" else -1
        elif ch in "()":
            paren += 1 if ch == "(" else -1
        elif ch == "," and angle <= 0 and paren <= 0:
            chunks.append(value[start:i].strip())
            start = i + 1
    chunks.append(value[start:].strip())
    return chunks


def _parse_one(field: str, chunk: str) -> Address:
    """Parse one `addr-spec` or `[display-name] <addr-spec>` (RFC 5322 §3.4)."""
    name: str | None = ""
    spec = chunk
    lt = _find_unquoted(chunk, "<")
    if lt >= 0:
        name = _display_name(chunk[:lt].strip()) if chunk.endswith(">") else None
        spec = chunk[lt + 1 : -1].strip()
    controls = any((ch < " " and ch != "\t") or ch == "\x7f" for ch in chunk)
    if name is None or controls or "<" in spec or ">" in spec:
        raise InvalidRequest(f"Invalid '{field}' address: '{chunk}'.")
    return Address(email=_check_addr_spec(field, spec), name=name)


def _find_unquoted(text: str, target: str) -> int:
    """Index of the first `target` outside a quoted-string, or -1."""
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == target and not quoted:
            return i
    return -1


def _display_name(raw: str) -> str | None:
    """The display name without its quoting, RFC 2047 words decoded; None when malformed.

    RFC 5322 §3.2.5: a phrase is a run of atoms and quoted-strings, so `John "JJ" Doe` is a
    name as good as `"John JJ Doe"`; the quotes and their backslash escapes are not part of it.
    """
    # Parentheses inside a quoted-string are text (`"Smile :)" <a@b.example>`), not a
    # comment: count only those outside, or such names were refused (found by tests/fuzz).
    outside = "".join(plain for _quoted, plain in _PHRASE_WORD.findall(raw))
    if outside.count("(") != outside.count(")"):
        # An unbalanced comment, as in `alice@example.org)<bob@example.org>`: parsers disagree
        # on who the recipient is (CVE-2023-27043), so refuse rather than guess.
        return None
    if '"' not in raw:
        return _decode_words(raw) if "=?" in raw else raw
    words = _PHRASE_WORD.findall(raw)
    if "".join(quoted or plain for quoted, plain in words) != raw:
        return None  # an unbalanced quote
    return "".join(
        _QUOTED_PAIR.sub(r"\1", quoted[1:-1]) if quoted else plain for quoted, plain in words
    )


def _decode_words(raw: str) -> str:
    """Decode RFC 2047 encoded-words a caller passed in a name; keep the text if they are bad."""
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return raw


def _check_addr_spec(field: str, spec: str) -> str:
    """Validate `local@domain` and return it with the domain lower-cased."""
    local, at, domain = spec.rpartition("@")
    if not at or not local or not domain or not _valid_local_part(local):
        raise InvalidRequest(f"Invalid '{field}' address: '{spec}'.")
    if any(ch not in _DOMAIN_ASCII and not _printable_non_ascii(ch) for ch in domain):
        raise InvalidRequest(
            f"Error parsing '{field}': Illegal email domain '{domain}' in address '{spec}'."
        )
    if not _valid_domain(domain):
        raise InvalidRequest(f"Invalid '{field}' address: '{spec}'.")
    return f"{local}@{domain.lower()}"


def _valid_local_part(local: str) -> bool:
    if len(local.encode("utf-8")) > _MAX_LOCAL_OCTETS:
        return False
    return all(ch in _LOCAL_ASCII or _printable_non_ascii(ch) for ch in local)


def _valid_domain(domain: str) -> bool:
    """A host name of at least two labels (mail to a bare "localhost" cannot leave the host)."""
    try:
        ascii_name = ascii_domain(domain)
    except UnicodeError:
        return False
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > _MAX_DOMAIN_OCTETS:
        return False
    for label in labels:
        if not label or len(label) > _MAX_LABEL_OCTETS:
            return False
        if label.startswith("-") or label.endswith("-"):
            return False
    # RFC 3696 §2: a top-level domain is never all-numeric, so "1.2.3.4" is not a host name.
    return not labels[-1].isdigit()


def _printable_non_ascii(ch: str) -> bool:
    """A UTF-8 non-ASCII character (RFC 6532 §3.1) that is neither a control nor a space."""
    return ord(ch) > 127 and ch.isprintable()
