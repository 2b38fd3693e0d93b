"""stats rollups: the dashboard's hourly counts, latency histogram and their watermark

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_rollups",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=8), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "server_id",
            "step",
            "dimension",
            "start",
            "value",
            "metric",
            name=op.f("pk_stats_rollups"),
        ),
    )
    op.create_table(
        "stats_latency",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("server_id", "hour", "bucket", name=op.f("pk_stats_latency")),
    )
    op.create_table(
        "stats_watermark",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stats_watermark")),
    )


def downgrade() -> None:
    op.drop_table("stats_watermark")
    op.drop_table("stats_latency")
    op.drop_table("stats_rollups")
