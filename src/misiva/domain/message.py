"""A send as given, and the same send once validated: the contract between doors and ingest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from misiva.domain.content_blocks import BlockChoice
from misiva.domain.enums import TrackLinks

DEFAULT_STREAM = "outbound"
# Postmark's limits (reference/postmark-api.md §2.1, §2.2).
MAX_RECIPIENTS = 50
MAX_BATCH = 500
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_BATCH_BYTES = 50 * 1024 * 1024
MAX_METADATA_KEY = 20
MAX_TAG = 1000


@dataclass(frozen=True, slots=True)
class HeaderField:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class AttachmentFields:
    """An attachment as given: Content is base64 text, decoded during validation."""

    name: str | None
    content: str | None
    content_type: str | None
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendFields:
    """One send as the caller gave it, with Postmark's field names; None means "not given"."""

    from_: str | None = None
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    subject: str | None = None
    html_body: str | None = None
    text_body: str | None = None
    reply_to: str | None = None
    headers: tuple[HeaderField, ...] = ()
    tag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    attachments: tuple[AttachmentFields, ...] = ()
    message_stream: str | None = None
    track_opens: bool | None = None
    track_links: str | None = None
    # Sending with a stored template (Postmark's /email/withTemplate) instead of bodies.
    template_id: int | None = None
    template_alias: str | None = None
    template_model: dict[str, Any] | None = None
    inline_css: bool = True
    # Set once rendered: the published version the content came from.
    template_version: int | None = None
    # Misiva's extension: the locale variant to render (else the contact's, else the server's).
    locale: str | None = None
    # SMTP submission: the envelope's recipients, the only ones the message goes to (a
    # client may name in To someone it does not send this copy to, RFC 5321 §3.3).
    envelope_recipients: tuple[str, ...] = ()
    # Set once rendered: the content block and variant each slot got (recorded on accept).
    content_blocks: tuple[BlockChoice, ...] = ()

    @property
    def uses_template(self) -> bool:
        return self.template_id is not None or self.template_alias is not None


@dataclass(frozen=True, slots=True)
class Address:
    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content: bytes
    content_type: str
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A send that passed validation; nothing malformed gets this far."""

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    subject: str
    html_body: str | None
    text_body: str | None
    reply_to: tuple[Address, ...]
    headers: tuple[HeaderField, ...]
    tag: str | None
    metadata: dict[str, str]
    attachments: tuple[Attachment, ...]
    stream: str
    track_opens: bool | None
    track_links: TrackLinks | None
    # The To string exactly as given: Postmark echoes it in the response.
    to_given: str
    # Lower-cased envelope recipients of an SMTP submission; empty: To, Cc and Bcc all.
    envelope_only: frozenset[str] = frozenset()

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients in order, each once (To, then Cc, then Bcc)."""
        seen: dict[str, None] = {}
        for address in (*self.to, *self.cc, *self.bcc):
            if not self.envelope_only or address.email.lower() in self.envelope_only:
                seen.setdefault(address.email, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a door answers for one accepted (or refused) send, in Postmark's terms."""

    to: str
    submitted_at: datetime | None
    message_id: str
    error_code: int
    message: str


def fields_to_json(fields: SendFields) -> dict[str, Any]:
    """A send as given, to wait as a scheduled message (rendering happens at release: the
    template's published version and the contact's profile then, as for any send)."""
    found = asdict(fields)
    found.pop("content_blocks", None)  # set by rendering, which has not happened yet
    return found


def fields_from_json(stored: dict[str, Any]) -> SendFields:
    given = dict(stored)
    headers = tuple(HeaderField(**h) for h in given.pop("headers", ()))
    attachments = tuple(AttachmentFields(**a) for a in given.pop("attachments", ()))
    recipients = tuple(given.pop("envelope_recipients", ()))
    known = {f.name for f in fields(SendFields)}
    return SendFields(
        **{k: v for k, v in given.items() if k in known},
        headers=headers,
        attachments=attachments,
        envelope_recipients=recipients,
    )
