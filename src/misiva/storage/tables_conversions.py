"""The schema of conversions: revenue the customer's systems report, attributed to the
message that led to it (and through it to its template, stream, blocks and variants). On
tables.metadata, like every other table (tables.py imports this module)."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.tables import metadata
from misiva.storage.types import BigID, UTCDateTime

# `value_micros` is the value in millionths of the currency's unit: whole numbers sum
# exactly on both databases (SQLite keeps NUMERIC as a float), and six places cover every
# ISO 4217 currency's minor unit. `order_id`, when given, makes a report idempotent: the
# same order posted twice counts once.
conversions = sa.Table(
    "conversions",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("template_id", sa.Integer, nullable=True),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("value_micros", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("order_id", sa.String(100), nullable=True),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "order_id"),
    sa.Index("ix_conversions_server_occurred", "server_id", "occurred_at"),
    sa.Index("ix_conversions_message", "message_id"),
)
