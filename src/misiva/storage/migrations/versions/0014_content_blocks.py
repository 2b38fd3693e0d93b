"""content blocks: marketer snippets per slot, and the block each message's slot got

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, JSONType, UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_blocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("variants", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_content_blocks_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_blocks")),
        sa.UniqueConstraint("server_id", "key", name=op.f("uq_content_blocks_server_id_key")),
    )
    op.create_index("ix_content_blocks_server_slot", "content_blocks", ["server_id", "slot"])
    op.create_table(
        "message_blocks",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("slot", sa.String(length=100), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_blocks")),
        sa.UniqueConstraint("message_id", "slot", name=op.f("uq_message_blocks_message_id_slot")),
    )
    op.create_index("ix_message_blocks_block", "message_blocks", ["block_id", "variant"])


def downgrade() -> None:
    op.drop_index("ix_message_blocks_block", table_name="message_blocks")
    op.drop_table("message_blocks")
    op.drop_index("ix_content_blocks_server_slot", table_name="content_blocks")
    op.drop_table("content_blocks")
