"""retention and event indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:02:28.023466
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    # Retention finds old rows of every server at once, by age alone.
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.create_index("ix_bounces_bounced", ["bounced_at"], unique=False)

    with op.batch_alter_table("captured_messages", schema=None) as batch_op:
        batch_op.create_index("ix_captured_messages_created", ["created_at"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_accepted", ["accepted_at"], unique=False)

    # Wider under the same name, so that a server's events of one message are counted in
    # this index rather than through ix_message_events_server_type.
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_message")
        batch_op.create_index(
            "ix_message_events_message", ["message_id", "server_id", "type", "id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index("ix_message_events_message")
        batch_op.create_index("ix_message_events_message", ["message_id", "id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_accepted")

    with op.batch_alter_table("captured_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_captured_messages_created")

    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_bounces_bounced")
