"""The schema of content blocks and of which block filled which slot of each message. On
tables.metadata, like every other table (tables.py imports this module)."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.tables import metadata
from misiva.storage.types import BigID, JSONType, UTCDateTime

# A marketer's snippet for one slot: `variants` holds its A/B variants, each with its split
# (percent) and its contents per locale ({"name", "split", "contents": {"es": {"html",
# "mjml"}}}), read and written whole with the block, since they are never queried apart.
content_blocks = sa.Table(
    "content_blocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("slot", sa.String(100), nullable=False),
    sa.Column("rule", sa.Text, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=True),
    sa.Column("ends_at", UTCDateTime, nullable=True),
    sa.Column("variants", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "key"),
    sa.Index("ix_content_blocks_server_slot", "server_id", "slot"),
)

# What each message's slots got: the record block results and click attribution read.
message_blocks = sa.Table(
    "message_blocks",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("slot", sa.String(100), nullable=False),
    sa.Column("block_id", sa.Integer, nullable=False),
    sa.Column("variant", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("message_id", "slot"),
    sa.Index("ix_message_blocks_block", "block_id", "variant"),
)
