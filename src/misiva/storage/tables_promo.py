"""The schema of promo code pools: a pool per offer (`WELCOME10`) and its codes, each given
to at most one recipient. On tables.metadata, like every other table (tables.py imports this
module)."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.tables import metadata
from misiva.storage.types import BigID, UTCDateTime

# One offer's pool: what a template names in `promo_code('WELCOME10')`, when its codes may be
# handed out, and what a send gets once every code is taken (`exhaustion`: refuse, fallback
# or omit). `low_stock_alerted_at` is set when the available codes first fall to the
# threshold, so the alert is raised once, not on every send after it.
promo_pools = sa.Table(
    "promo_pools",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=True),
    sa.Column("ends_at", UTCDateTime, nullable=True),
    sa.Column("exhaustion", sa.String(16), nullable=False),
    sa.Column("fallback_text", sa.String(255), nullable=False),
    sa.Column("low_stock_threshold", sa.Integer, nullable=False),
    sa.Column("low_stock_alerted_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "key"),
)

# A code, unique within its server (so redeeming by code alone is unambiguous), and the one
# recipient it went to. The unique (pool_id, recipient) is what makes allocation idempotent:
# a second allocation for the same person conflicts and reads the first one's code instead.
promo_codes = sa.Table(
    "promo_codes",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("pool_id", sa.Integer, sa.ForeignKey("promo_pools.id"), nullable=False),
    sa.Column("code", sa.String(128), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=True),
    sa.Column("message_id", sa.String(64), nullable=True),
    sa.Column("allocated_at", UTCDateTime, nullable=True),
    sa.Column("redeemed_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("server_id", "code"),
    sa.UniqueConstraint("pool_id", "recipient"),
    sa.Index("ix_promo_codes_pool_free", "pool_id", "recipient", "id"),
    # The pool page lists given codes latest first, 50 at a time: read off this index, not
    # sorted whole for each page.
    sa.Index("ix_promo_codes_pool_allocated", "pool_id", "allocated_at"),
)
