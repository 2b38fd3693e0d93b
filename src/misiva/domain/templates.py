"""Templates, their immutable versions and locale variants, and what rendering produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Postmark's layout marker: a layout holds it exactly once, where a template's content goes.
LAYOUT_PLACEHOLDER = "{{{ @content }}}"
# The variant used when no locale of the send, contact or server matches.
DEFAULT_VARIANT = "default"
# Postmark's limit per server (ErrorCode 1105).
MAX_TEMPLATES = 100
# Gmail clips an HTML part larger than this; validate reports it.
GMAIL_CLIP_BYTES = 102 * 1024


class TemplateType(StrEnum):
    STANDARD = "Standard"
    LAYOUT = "Layout"


@dataclass(frozen=True, slots=True)
class TemplateContent:
    """One locale variant as its author wrote it. mjml_body, when given, replaces html_body
    (it is compiled to HTML when saved)."""

    subject: str = ""
    html_body: str | None = None
    text_body: str | None = None
    mjml_body: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    """An immutable snapshot of every locale variant of a template."""

    id: int
    template_id: int
    number: int
    variants: dict[str, TemplateContent]
    created_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    server_id: int
    alias: str | None
    name: str
    template_type: TemplateType
    layout_alias: str | None
    published_version: int | None
    latest_version: int
    active: bool
    created_at: datetime
    updated_at: datetime

    @property
    def current_version(self) -> int:
        """The version sends use: the published one, else the latest draft."""
        return self.published_version or self.latest_version


@dataclass(frozen=True, slots=True)
class RenderedContent:
    """A message's content, rendered for one recipient."""

    subject: str
    html_body: str | None
    text_body: str | None
    template_id: int | None = None
    template_version: int | None = None
    locale: str | None = None
    warnings: tuple[str, ...] = field(default=())
