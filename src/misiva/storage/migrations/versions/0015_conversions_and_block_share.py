"""conversions attributed to messages, each stream's commercial-content share, indexes
for conversions by recipient and a pool's given codes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversions",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("value_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_conversions_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint(
            "server_id", "order_id", name=op.f("uq_conversions_server_id_order_id")
        ),
    )
    op.create_index("ix_conversions_server_occurred", "conversions", ["server_id", "occurred_at"])
    op.create_index("ix_conversions_message", "conversions", ["message_id"])
    op.create_index(
        "ix_message_events_recipient",
        "message_events",
        ["server_id", sa.text("lower(recipient)"), "created_at"],
        sqlite_where=sa.text("type IN ('delivered', 'opened', 'clicked')"),
        postgresql_where=sa.text("type IN ('delivered', 'opened', 'clicked')"),
    )
    op.create_index("ix_promo_codes_pool_allocated", "promo_codes", ["pool_id", "allocated_at"])
    with op.batch_alter_table("streams") as batch:
        batch.add_column(sa.Column("max_block_share", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("streams") as batch:
        batch.drop_column("max_block_share")
    op.drop_index("ix_promo_codes_pool_allocated", table_name="promo_codes")
    op.drop_index("ix_message_events_recipient", table_name="message_events")
    op.drop_index("ix_conversions_message", table_name="conversions")
    op.drop_index("ix_conversions_server_occurred", table_name="conversions")
    op.drop_table("conversions")
