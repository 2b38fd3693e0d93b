"""event-triggered automation: app events, triggers and their versions, scheduled messages

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:27:04.653084
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, JSONType, UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_events",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_app_events_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_events")),
        sa.UniqueConstraint("server_id", "event_id", name=op.f("uq_app_events_server_id_event_id")),
    )
    with op.batch_alter_table("app_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_app_events_contact", ["server_id", "email", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_app_events_name", ["server_id", "name", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_app_events_received", ["server_id", "received_at"], unique=False)

    op.create_table(
        "scheduled_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=True),
        sa.Column("trigger_version", sa.Integer(), nullable=True),
        sa.Column("app_event_id", BigID, nullable=True),
        sa.Column("leased_by", sa.String(length=32), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_scheduled_messages_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_messages")),
    )
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduled_due",
            ["send_at"],
            unique=False,
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        )
        batch_op.create_index("ix_scheduled_event", ["app_event_id"], unique=False)
        batch_op.create_index(
            "ix_scheduled_server", ["server_id", "status", "send_at"], unique=False
        )
        batch_op.create_index(
            "ix_scheduled_trigger", ["trigger_id", "email", "created_at"], unique=False
        )

    op.create_table(
        "triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSONType, nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_triggers_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint("server_id", "key", name=op.f("uq_triggers_server_id_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.create_index("ix_triggers_event", ["server_id", "event_name"], unique=False)

    op.create_table(
        "trigger_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSONType, nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"], ["triggers.id"], name=op.f("fk_trigger_versions_trigger_id_triggers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_versions")),
        sa.UniqueConstraint(
            "trigger_id", "version", name=op.f("uq_trigger_versions_trigger_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("trigger_versions")
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_triggers_event")

    op.drop_table("triggers")
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_trigger")
        batch_op.drop_index("ix_scheduled_server")
        batch_op.drop_index("ix_scheduled_event")
        batch_op.drop_index(
            "ix_scheduled_due",
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        )

    op.drop_table("scheduled_messages")
    with op.batch_alter_table("app_events", schema=None) as batch_op:
        batch_op.drop_index("ix_app_events_received")
        batch_op.drop_index("ix_app_events_name")
        batch_op.drop_index("ix_app_events_contact")

    op.drop_table("app_events")
