"""Turn a send as given (SendFields) into a SendRequest, or refuse it with Postmark's words."""

from __future__ import annotations

import base64
import binascii

from misiva.domain.enums import TrackLinks
from misiva.domain.errors import InvalidRequest
from misiva.domain.message import (
    DEFAULT_STREAM,
    MAX_METADATA_KEY,
    MAX_RECIPIENTS,
    MAX_TAG,
    Attachment,
    AttachmentFields,
    SendFields,
    SendRequest,
)
from misiva.mail.addresses import (
    check_header_name,
    check_header_value,
    parse_address_list,
    parse_single_address,
)


def validate_send(fields: SendFields) -> SendRequest:
    """Every check a send must pass before it may be queued; the first failure is raised."""
    sender = parse_single_address("From", fields.from_)
    to = parse_address_list("To", fields.to)
    cc = parse_address_list("Cc", fields.cc)
    bcc = parse_address_list("Bcc", fields.bcc)
    _check_recipient_count(len(to) + len(cc) + len(bcc))
    if not fields.html_body and not fields.text_body:
        raise InvalidRequest("Provide either email TextBody or HtmlBody or both.")
    subject = fields.subject or ""
    check_header_value("Subject", subject)
    for header in fields.headers:
        check_header_name(header.name)
        check_header_value(header.name, header.value)
    return SendRequest(
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        html_body=fields.html_body or None,
        text_body=fields.text_body or None,
        reply_to=parse_address_list("Reply-To", fields.reply_to),
        headers=fields.headers,
        tag=_tag(fields.tag),
        metadata=_metadata(fields.metadata),
        attachments=tuple(_attachment(a) for a in fields.attachments),
        stream=fields.message_stream or DEFAULT_STREAM,
        track_opens=fields.track_opens,
        track_links=_track_links(fields.track_links),
        to_given=fields.to or "",
        envelope_only=frozenset(r.lower() for r in fields.envelope_recipients),
    )


def _check_recipient_count(count: int) -> None:
    if count == 0:
        raise InvalidRequest("Zero recipients specified")
    if count > MAX_RECIPIENTS:
        # Postmark counts To, Cc and Bcc together (reference/postmark-api.md §2.1).
        raise InvalidRequest(
            f"Maximum of {MAX_RECIPIENTS} recipients (To, Cc and Bcc together) exceeded: "
            f"this message has {count}."
        )


def _tag(tag: str | None) -> str | None:
    if not tag:
        return None
    if len(tag) > MAX_TAG:
        raise InvalidRequest(f"Invalid 'Tag': it is limited to {MAX_TAG} characters.")
    check_header_value("Tag", tag)
    return tag


def _metadata(metadata: dict[str, str]) -> dict[str, str]:
    for key in metadata:
        if not key or len(key) > MAX_METADATA_KEY:
            # anymail recognises this phrasing as an API error (not a recipient error).
            raise InvalidRequest(
                "Invalid metadata content. Field names are limited to "
                f"{MAX_METADATA_KEY} characters and may not be empty: {key!r}."
            )
    return metadata


def _track_links(value: str | None) -> TrackLinks | None:
    if not value:
        return None
    for option in TrackLinks:
        if option.value.lower() == value.lower():
            return option
    choices = ", ".join(option.value for option in TrackLinks)
    raise InvalidRequest(f"Invalid 'TrackLinks' value {value!r}: use one of {choices}.")


def _attachment(given: AttachmentFields) -> Attachment:
    if not given.name:
        raise InvalidRequest("Invalid 'Attachments': every attachment needs a Name.")
    check_header_value("Attachments Name", given.name)
    try:
        # Line breaks are common in base64 written by MIME tools; they carry no data.
        content = base64.b64decode("".join((given.content or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            f"Invalid 'Attachments': the Content of {given.name!r} is not valid base64."
        ) from exc
    content_type = given.content_type or "application/octet-stream"
    check_header_value("Attachments ContentType", content_type)
    if "/" not in content_type:
        raise InvalidRequest(
            f"Invalid 'Attachments': ContentType {content_type!r} of {given.name!r} "
            "is not a MIME type."
        )
    content_id = given.content_id or None
    if content_id is not None:
        check_header_value("Attachments ContentID", content_id)
    return Attachment(
        name=given.name, content=content, content_type=content_type, content_id=content_id
    )
