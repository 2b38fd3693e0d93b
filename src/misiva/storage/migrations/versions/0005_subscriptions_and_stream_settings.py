"""subscriptions, consent records and stream settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:35:31.485259
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("unsubscribed_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("confirmation_message_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_subscriptions_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("server_id", "stream", "email", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_expiring",
            ["expires_at"],
            unique=False,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        )
        batch_op.create_index("ix_subscriptions_server_email", ["server_id", "email"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_records_address", ["server_id", "email", "id"], unique=False
        )

    # Subscription changes that no message caused (a confirmation, the preference centre)
    # are events too, with no message.
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.alter_column("message_id", existing_type=sa.String(length=36), nullable=True)
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("message_id", existing_type=sa.String(length=36), nullable=True)

    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index("ix_suppressions_server_email", ["server_id", "email"], unique=False)

    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("archived_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "unsubscribe_handling", sa.String(length=16), server_default="None", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("require_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("opt_in_template", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("opt_in_ttl_hours", sa.Integer(), server_default="48", nullable=False)
        )
        batch_op.add_column(sa.Column("welcome_template", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("unsubscribe_template", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("notice_from", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "notice_stream", sa.String(length=30), server_default="outbound", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("streams", schema=None) as batch_op:
        for column in (
            "notice_stream",
            "notice_from",
            "unsubscribe_template",
            "welcome_template",
            "opt_in_ttl_hours",
            "opt_in_template",
            "require_opt_in",
            "unsubscribe_handling",
            "archived_at",
            "updated_at",
            "description",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_server_email")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("message_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.alter_column("message_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_address")
    op.drop_table("consent_records")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_server_email")
        batch_op.drop_index(
            "ix_subscriptions_expiring", sqlite_where=_PENDING, postgresql_where=_PENDING
        )
    op.drop_table("subscriptions")
