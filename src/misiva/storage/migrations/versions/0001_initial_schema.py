"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 10:58:13.348828
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, JSONType, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "captured_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("envelope_from", sa.Text(), nullable=False),
        sa.Column("recipients", JSONType, nullable=False),
        sa.Column("mime", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captured_messages")),
    )
    with op.batch_alter_table("captured_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captured_messages_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index("ix_captured_messages_server", ["server_id", "id"], unique=False)

    op.create_table(
        "servers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servers")),
        sa.UniqueConstraint("name", name=op.f("uq_servers_name")),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("dkim_selector", sa.String(length=63), nullable=False),
        sa.Column("dkim_private_key", sa.Text(), nullable=False),
        sa.Column("dkim_public_txt", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_domains_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("server_id", "name", name=op.f("uq_domains_server_id_name")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_idempotency_keys_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("server_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "server_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_server_tokens_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_server_tokens_token_hash")),
    )
    with op.batch_alter_table("server_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_server_tokens_server_id"), ["server_id"], unique=False)

    op.create_table(
        "streams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("stream_type", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_streams_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streams")),
        sa.UniqueConstraint("server_id", "stream_id", name=op.f("uq_streams_server_id_stream_id")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=30), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("envelope_from", sa.Text(), nullable=False),
        sa.Column("to_list", JSONType, nullable=False),
        sa.Column("cc_list", JSONType, nullable=False),
        sa.Column("bcc_list", JSONType, nullable=False),
        sa.Column("rcpt_state", JSONType, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=True),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("track_opens", sa.Boolean(), nullable=True),
        sa.Column("track_links", sa.String(length=16), nullable=True),
        sa.Column("mime", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("leased_by", sa.String(length=32), nullable=True),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_messages_domain_id_domains")
        ),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_messages_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status IN ('queued', 'deferred')"),
            postgresql_where=sa.text("status IN ('queued', 'deferred')"),
        )
        batch_op.create_index(
            "ix_messages_server_accepted", ["server_id", "accepted_at"], unique=False
        )

    op.create_table(
        "message_events",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_events_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index("ix_message_events_message", ["message_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_message")

    op.drop_table("message_events")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_server_accepted")
        batch_op.drop_index(
            "ix_messages_due",
            sqlite_where=sa.text("status IN ('queued', 'deferred')"),
            postgresql_where=sa.text("status IN ('queued', 'deferred')"),
        )

    op.drop_table("messages")
    op.drop_table("streams")
    with op.batch_alter_table("server_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_server_tokens_server_id"))

    op.drop_table("server_tokens")
    op.drop_table("idempotency_keys")
    op.drop_table("domains")
    op.drop_table("servers")
    with op.batch_alter_table("captured_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_captured_messages_server")
        batch_op.drop_index(batch_op.f("ix_captured_messages_message_id"))

    op.drop_table("captured_messages")
