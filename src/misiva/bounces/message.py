"""Reading a returned message: its header text, its own decoded text, the addresses it names
and the original message it encloses or quotes."""

from __future__ import annotations

import codecs
import email
import re
from collections.abc import Iterator
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Final

from misiva.bounces.classify import REPLY_CODE, STATUS

# Regexes run over at most this much text: a bounce's notice is short, and a cap keeps a
# hostile multi-megabyte body from costing more than a bounded scan.
TEXT_LIMIT: Final = 64 * 1024
_DIAGNOSTIC_LIMIT: Final = 1000
# Parts visited per message; real reports have fewer than twenty.
_PART_LIMIT: Final = 200

_ADDRESS: Final = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:\[\]]+$")
_ADDRESS_IN_TEXT: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
# Local parts that belong to the mail system rather than to a person (RFC 5321 §4.5.1).
MAIL_SYSTEM_LOCALS: Final = frozenset(
    {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon", "mailer_daemon"}
)
_MAIL_SYSTEM_NAME: Final = re.compile(
    r"mail ?delivery (?:system|subsystem|service)|mailer.?daemon|postmaster|"
    r"system administrator|internet mail delivery",
    re.IGNORECASE,
)
# Subjects that MTAs give their non-delivery reports, in the languages we have seen.
BOUNCE_SUBJECT: Final = re.compile(
    r"undeliver|undelivered|returned mail|returned to sender|failure notice|delivery fail"
    r"|mail delivery failed|delivery status notification|delivery (?:has )?failed"
    r"|delivery notification|could not be delivered|non.?delivery|delivery problem"
    r"|failure delivery|nicht zustellbar|unzustellbar|no entregado|non remis|delayed mail"
    r"|warning: message .* delayed|delivery delayed",
    re.IGNORECASE,
)
# Where a non-delivery report's own words end and its copy of the original begins.
_COPY_STARTS: Final = re.compile(
    r"^[ \t-]*(?:below this line is a copy of the message|this is a copy of the message"
    r"|below is a copy of the original message|original message follows"
    r"|original message headers)"
    r"|^[ \t]*-{2,}[ \t]*(?:original|returned|undelivered) message"
    r"|^(?:return-path|received|dkim-signature|x-received|arc-seal):[ \t]",
    re.IGNORECASE | re.MULTILINE,
)
_ENCLOSED_HEADERS: Final = frozenset(
    {"text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers"}
)
_ENCLOSED_MESSAGES: Final = frozenset({"message/rfc822", "message/global"})
_QUOTED_ID: Final = re.compile(r"^(?:x-misiva-message-id|message-id):[ \t]*(\S+)", re.I | re.M)


def header_text(msg: Message, name: str) -> str:
    """A header's value with RFC 2047 encoded-words decoded and whitespace collapsed."""
    return decoded(msg.get(name))


def decoded(value: object) -> str:
    """One header value as text. The stdlib hands a raw 8-bit value over as a `Header` of
    "unknown-8bit" chunks: those are read as UTF-8 (RFC 6532 §3.2), else as Latin-1."""
    if value is None:
        return ""
    try:
        if isinstance(value, Header):
            chunks = decode_header(value)
            return squash("".join(_chunk_text(chunk, charset) for chunk, charset in chunks))
        return squash(str(make_header(decode_header(str(value)))))
    except (ValueError, LookupError, UnicodeError, TypeError):
        return squash(str(value))


def _chunk_text(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset and charset != "unknown-8bit":
        return chunk.decode(charset, errors="replace")
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return chunk.decode("latin-1")


def squash(text: str) -> str:
    """Collapse runs of whitespace, as header unfolding does (RFC 5322 §2.2.3)."""
    return " ".join(text.split())


def clean_address(value: str) -> str:
    """A bare lower-cased addr-spec, or "" when `value` is not a plausible address."""
    address = value.strip().strip("<>").strip().lower()
    return address if _ADDRESS.match(address) else ""


def addresses_in_header(msg: Message, name: str) -> list[str]:
    values = [str(value) for value in msg.get_all(name, [])]
    found = (clean_address(address) for _, address in getaddresses(values))
    return unique(address for address in found if address)


def sender(msg: Message) -> str:
    return clean_address(parseaddr(header_text(msg, "From"))[1])


def unique(items: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def own_parts(msg: Message) -> Iterator[Message]:
    """The message's parts, without descending into a message it encloses (RFC 2046 §5.2)."""
    stack, seen = [msg], 0
    while stack and seen < _PART_LIMIT:
        part = stack.pop()
        seen += 1
        yield part
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, Message)]))


def part_text(part: Message) -> str:
    """A leaf part's text, transfer-decoded and charset-decoded, never raising."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:TEXT_LIMIT] if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return payload[:TEXT_LIMIT].decode(charset, errors="replace")


def own_text(msg: Message) -> str:
    """All text/plain the returning server wrote itself, none from a message it encloses."""
    # A single-part message is all notice whatever its type says; so is a broken multipart.
    single = not msg.is_multipart()
    texts = [
        part_text(part)
        for part in own_parts(msg)
        if part.get_content_type() == "text/plain" or (single and part is msg)
    ]
    return "\n".join(texts)[:TEXT_LIMIT]


def notice_text(msg: Message) -> str:
    """The human-readable notice of a report: its own text, up to the copy of the original."""
    text = own_text(msg)
    cut = _COPY_STARTS.search(text)
    return text[: cut.start()] if cut and cut.start() > 0 else text


def reply_line(notice: str) -> str:
    """The notice's line that quotes the remote server's reply (its code, else its RFC 3463
    status), squashed and cut to a readable length; "" if it quotes none."""
    lines = notice.splitlines()
    for pattern in (REPLY_CODE, STATUS):
        quoted = next((line for line in lines if pattern.search(line)), None)
        if quoted is not None:
            return squash(quoted)[:_DIAGNOSTIC_LIMIT]
    return ""


def quoted_reply(notice: str) -> str:
    """The line quoting the remote server, else the whole notice in its place."""
    return reply_line(notice) or squash(notice)[:_DIAGNOSTIC_LIMIT]


def notice_addresses(notice: str, msg: Message) -> list[str]:
    """Addresses a notice names, less the mail system's own and the report's sender."""
    own = {sender(msg), *addresses_in_header(msg, "To")}
    found = (address.lower() for address in _ADDRESS_IN_TEXT.findall(notice))
    return unique(
        address
        for address in found
        if address not in own and address.partition("@")[0] not in MAIL_SYSTEM_LOCALS
    )


def is_from_mail_system(msg: Message) -> bool:
    """Whether the message was written by a mail server rather than by a person."""
    local = sender(msg).partition("@")[0]
    return local in MAIL_SYSTEM_LOCALS or bool(_MAIL_SYSTEM_NAME.search(header_text(msg, "From")))


def looks_like_bounce(msg: Message) -> bool:
    """Whether the sender or the subject says "non-delivery report", whatever its format."""
    return is_from_mail_system(msg) or bool(BOUNCE_SUBJECT.search(header_text(msg, "Subject")))


def enclosed_headers(msg: Message) -> Iterator[Message]:
    """The original's header fields: a message/rfc822 part or a text/rfc822-headers part
    (RFC 6522 §4), which RFC 3464 §2 DSNs and RFC 5965 §2 ARF reports carry third."""
    for part in own_parts(msg):
        ctype = part.get_content_type()
        if ctype in _ENCLOSED_MESSAGES and part.is_multipart():
            yield from (p for p in part.get_payload() if isinstance(p, Message))
        elif ctype in _ENCLOSED_HEADERS:
            yield email.message_from_string(part_text(part))


def clean_message_id(value: object) -> str | None:
    """A Message-ID without its angle brackets (RFC 5322 §3.6.4), or None."""
    text = str(value or "").strip().strip("<>").strip()
    return text if text and " " not in text else None


def original_message_id(msg: Message) -> str | None:
    """The Message-ID of the message that came back, else the X-Misiva-Message-ID it carried."""
    for headers in enclosed_headers(msg):
        found = clean_message_id(headers.get("Message-ID")) or clean_message_id(
            headers.get("X-Misiva-Message-ID")
        )
        if found:
            return found
    quoted = _QUOTED_ID.search(own_text(msg))
    return clean_message_id(quoted.group(1)) if quoted else None
