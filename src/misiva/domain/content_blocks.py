"""Content blocks: marketer-managed snippets that fill a template's slot for the recipients
their audience rule matches, while their schedule runs, with optional A/B variants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# A block without variants renders its own content under this name.
DEFAULT_VARIANT = "A"
# Splits are whole percentages: a recipient's bucket is hash(...) % 100.
SPLIT_TOTAL = 100
# A block is a side offer, not the message: on a transactional stream that sets no share of
# its own, blocks take at most 30% of the text a reader sees (streams.max_block_share).
DEFAULT_MAX_BLOCK_SHARE_PERCENT = 30


@dataclass(frozen=True, slots=True)
class BlockContent:
    """One locale of one variant: HTML, or MJML compiled to HTML when the block is saved."""

    html: str
    mjml: str | None = None


@dataclass(frozen=True, slots=True)
class BlockVariant:
    """An A/B variant: its name, its share of recipients (percent) and its locale contents."""

    name: str
    split: int
    contents: dict[str, BlockContent]


@dataclass(frozen=True, slots=True)
class ContentBlock:
    id: int
    server_id: int
    key: str
    slot: str
    rule: str | None
    priority: int
    starts_at: datetime | None
    ends_at: datetime | None
    variants: tuple[BlockVariant, ...]
    created_at: datetime
    updated_at: datetime

    def active_at(self, now: datetime) -> bool:
        """Within its schedule: from start (inclusive) to end (exclusive)."""
        started = self.starts_at is None or self.starts_at <= now
        return started and (self.ends_at is None or now < self.ends_at)


@dataclass(frozen=True, slots=True)
class BlockChoice:
    """What filled one slot of one message: recorded with the message, read by attribution."""

    slot: str
    block_id: int
    variant: str


@dataclass(frozen=True, slots=True)
class NewContentBlock:
    key: str
    slot: str
    variants: tuple[BlockVariant, ...]
    rule: str | None = None
    priority: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
