"""promo code pools: pools per offer and their codes, each allocated to one recipient

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promo_pools",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("exhaustion", sa.String(length=16), nullable=False),
        sa.Column("fallback_text", sa.String(length=255), nullable=False),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=False),
        sa.Column("low_stock_alerted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_promo_pools_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_pools")),
        sa.UniqueConstraint("server_id", "key", name=op.f("uq_promo_pools_server_id_key")),
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("allocated_at", UTCDateTime(), nullable=True),
        sa.Column("redeemed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["promo_pools.id"], name=op.f("fk_promo_codes_pool_id_promo_pools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("server_id", "code", name=op.f("uq_promo_codes_server_id_code")),
        sa.UniqueConstraint("pool_id", "recipient", name=op.f("uq_promo_codes_pool_id_recipient")),
    )
    with op.batch_alter_table("promo_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promo_codes_pool_free", ["pool_id", "recipient", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("promo_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_promo_codes_pool_free")
    op.drop_table("promo_codes")
    op.drop_table("promo_pools")
