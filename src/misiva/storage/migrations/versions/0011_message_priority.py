"""message priority: transactional streams are claimed before commercial ones

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMABLE = sa.text("status IN ('queued', 'deferred')")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False)
        )
    # Mail already queued on a Broadcasts stream keeps its place behind transactional mail.
    op.execute(
        "UPDATE messages SET priority = 1 WHERE EXISTS (SELECT 1 FROM streams"
        " WHERE streams.server_id = messages.server_id"
        " AND streams.stream_id = messages.stream AND streams.stream_type = 'Broadcasts')"
    )
    # The claim reads one priority at a time, oldest due first: (priority, next_attempt_at)
    # serves it as a range scan per priority, as next_attempt_at alone served it before.
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_due", sqlite_where=_CLAIMABLE, postgresql_where=_CLAIMABLE)
        batch.create_index(
            "ix_messages_due",
            ["priority", "next_attempt_at"],
            unique=False,
            sqlite_where=_CLAIMABLE,
            postgresql_where=_CLAIMABLE,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_due", sqlite_where=_CLAIMABLE, postgresql_where=_CLAIMABLE)
        batch.create_index(
            "ix_messages_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=_CLAIMABLE,
            postgresql_where=_CLAIMABLE,
        )
        batch.drop_column("priority")
