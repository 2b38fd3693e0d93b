"""The words of content checks: lint findings and their severity, spam scores and rule hits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """An error blocks a marketer's publish; a warning is shown and never blocks."""

    ERROR = "error"
    WARNING = "warning"


class LintCode(StrEnum):
    """What a content lint finding is about; one code per rule (docs/deliverability-content.md)."""

    TEXT_MISSING = "TextMissing"
    TEXT_DERIVED = "TextDerived"
    ALT_MISSING = "AltMissing"
    IMAGES_ONLY = "ImagesOnly"
    HTML_CLIPPED = "HtmlClipped"
    LINK_INSECURE = "LinkInsecure"
    LINK_SHORTENER = "LinkShortener"
    LINK_TEXT_MISMATCH = "LinkTextMismatch"
    UNSUBSCRIBE_MISSING = "UnsubscribeMissing"
    PASSWORD_VARIABLE = "PasswordVariable"
    PROMOTIONAL_CONTENT = "PromotionalContent"
    BLOCK_BEFORE_CONTENT = "BlockBeforeContent"
    BLOCK_SHARE = "BlockShare"


class StreamUse(StrEnum):
    """What the content is checked for: a commercial stream (Broadcasts), a transactional
    one, or not known (a template is not bound to a stream: both sets of rules, worded as
    "if sent on ...")."""

    COMMERCIAL = "commercial"
    TRANSACTIONAL = "transactional"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LintFinding:
    code: LintCode
    severity: Severity
    message: str
    # Subject | HtmlBody | MjmlBody | TextBody, and the author's line there, when known.
    part: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class SpamRule:
    """One SpamAssassin rule that hit: its name, the points it added and what it means."""

    name: str
    score: float
    description: str


@dataclass(frozen=True, slots=True)
class SpamScore:
    """spamd's verdict on one message: its score, the rules behind it, the time it took."""

    score: float
    rules: tuple[SpamRule, ...]
    # spamd's own required_score; Misiva decides with MISIVA_SPAM_THRESHOLD instead.
    spamd_threshold: float
    seconds: float
