"""Request shapes as Postmark clients send them: PascalCase, with null/""/[]/{} meaning absent."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.message import AttachmentFields, HeaderField, SendFields

_EMPTY: tuple[Any, ...] = ("", [], {})


class _PostmarkModel(BaseModel):
    # Clients send fields Misiva does not use yet (TemplateId: null from postmarker...).
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if any(value is e or value == e for e in _EMPTY) else value


class HeaderIn(_PostmarkModel):
    Name: str
    Value: str | None = None


class AttachmentIn(_PostmarkModel):
    Name: str | None = None
    Content: str | None = None
    ContentType: str | None = None
    ContentID: str | None = None


class EmailIn(_PostmarkModel):
    """POST /email (and each item of /email/batch), as in Postmark's Email API."""

    From: str | None = None
    To: str | None = None
    Cc: str | None = None
    Bcc: str | None = None
    Subject: str | None = None
    HtmlBody: str | None = None
    TextBody: str | None = None
    ReplyTo: str | None = None
    Headers: list[HeaderIn] | None = None
    Tag: str | None = None
    Metadata: dict[str, str | int | float | bool | None] | None = None
    Attachments: list[AttachmentIn] | None = None
    MessageStream: str | None = None
    TrackOpens: bool | None = None
    TrackLinks: str | None = Field(None, description="None, HtmlAndText, HtmlOnly or TextOnly")
    # Read by parse_send_at, not by to_fields: when is not part of the send itself.
    SendAt: str | None = Field(
        None,
        description="Misiva: send at this time (ISO 8601 with a time zone, at most 365 days "
        "ahead) instead of now; the answer's MessageID is the one it will be sent with.",
    )

    def to_fields(self) -> SendFields:
        return SendFields(
            from_=self.From,
            to=self.To,
            cc=self.Cc,
            bcc=self.Bcc,
            subject=self.Subject,
            html_body=self.HtmlBody,
            text_body=self.TextBody,
            reply_to=self.ReplyTo,
            headers=tuple(HeaderField(h.Name, h.Value or "") for h in self.Headers or ()),
            tag=self.Tag,
            # Postmark stores metadata values as strings.
            metadata={k: _metadata_value(v) for k, v in (self.Metadata or {}).items()},
            attachments=tuple(
                AttachmentFields(a.Name, a.Content, a.ContentType, a.ContentID)
                for a in self.Attachments or ()
            ),
            message_stream=self.MessageStream,
            track_opens=self.TrackOpens,
            track_links=self.TrackLinks,
        )


class TemplatedEmailIn(EmailIn):
    """POST /email/withTemplate (and each item of /email/batchWithTemplates)."""

    TemplateId: int | None = None
    TemplateAlias: str | None = None
    TemplateModel: dict[str, Any] | None = None
    InlineCss: bool | None = None
    Locale: str | None = Field(None, description="Misiva: the locale variant to render.")

    def to_fields(self) -> SendFields:
        return dataclasses.replace(
            super().to_fields(),
            template_id=self.TemplateId,
            template_alias=self.TemplateAlias,
            template_model=self.TemplateModel or {},
            inline_css=self.InlineCss is not False,
            locale=self.Locale,
        )


class SendResponse(BaseModel):
    To: str
    SubmittedAt: str
    MessageID: str
    ErrorCode: int
    Message: str


class ErrorResponse(BaseModel):
    ErrorCode: int
    Message: str


def _metadata_value(value: str | int | float | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_email(item: Any, model: type[EmailIn] = EmailIn) -> SendFields:
    """One message object to SendFields, or InvalidRequest naming the first bad field."""
    if not isinstance(item, dict):
        raise InvalidRequest("Invalid email request: each message must be a JSON object.")
    try:
        fields = model.model_validate(item).to_fields()
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc)) from None
    if model is TemplatedEmailIn and not fields.uses_template:
        raise InvalidRequest(
            "Provide a 'TemplateId' or a 'TemplateAlias'.", ErrorCode.TEMPLATE_FIELD_MISSING
        )
    return fields


def parse_send_at(item: Any) -> datetime | None:
    """A message object's SendAt (Misiva's extension), or None when it has none."""
    value = item.get("SendAt") if isinstance(item, dict) else None
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidRequest(
            f"Invalid 'SendAt' value {value!r}: use an ISO 8601 date and time with a time "
            "zone, such as 2026-12-24T09:00:00Z."
        )
    if parsed.tzinfo is None:
        raise InvalidRequest(
            f"Invalid 'SendAt' value {value!r}: it needs a time zone (Z or +01:00)."
        )
    return parsed


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = error["loc"]
    field = str(location[0]) if location else "request"
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location[1:])
    return f"Invalid '{field}' value{where}: {error['msg']}."
