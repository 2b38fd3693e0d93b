"""tracking bounces suppressions webhooks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:52:15.847359
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, JSONType, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "bounces",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("inactive", sa.Boolean(), nullable=False),
        sa.Column("can_activate", sa.Boolean(), nullable=False),
        sa.Column("dump", sa.LargeBinary(), nullable=True),
        sa.Column("bounced_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
    )
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.create_index("ix_bounces_message", ["message_id"], unique=False)
        batch_op.create_index(
            "ix_bounces_server_bounced", ["server_id", "bounced_at"], unique=False
        )

    op.create_table(
        "suppressions",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("server_id", "stream", "email", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("http_auth", JSONType, nullable=True),
        sa.Column("http_headers", JSONType, nullable=False),
        sa.Column("triggers", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_webhooks_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("payload", JSONType, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ix_webhook_deliveries_order", ["webhook_id", "message_id", "id"], unique=False
        )

    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_events_server_type", ["server_id", "type", "created_at"], unique=False
        )

    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("secret", sa.String(length=64), server_default="", nullable=False)
        )

    # Existing servers get their own token-signing secret.
    connection = op.get_bind()
    for (server_id,) in connection.execute(sa.text("SELECT id FROM servers")).all():
        connection.execute(
            sa.text("UPDATE servers SET secret = :secret WHERE id = :id"),
            {"secret": secrets.token_hex(32), "id": server_id},
        )

    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("track_opens", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("track_links", sa.String(length=16), server_default="None", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.drop_column("track_links")
        batch_op.drop_column("track_opens")

    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_column("secret")

    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_server_type")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_order")
        batch_op.drop_index(
            "ix_webhook_deliveries_due",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    op.drop_table("suppressions")
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_bounces_server_bounced")
        batch_op.drop_index("ix_bounces_message")

    op.drop_table("bounces")
