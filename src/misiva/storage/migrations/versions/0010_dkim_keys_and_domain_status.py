"""dkim keys and domain status: each domain's DKIM keys with their rotation state, and the
history of its DNS records' status changes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_txt", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("retiring_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_dkim_keys_domain_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dkim_keys")),
        sa.UniqueConstraint("domain_id", "selector", name=op.f("uq_dkim_keys_domain_id_selector")),
    )
    # Every existing domain's key becomes its active RSA key, signing as before.
    op.execute(
        "INSERT INTO dkim_keys (domain_id, selector, algorithm, state, private_key, public_txt,"
        " created_at, activated_at) SELECT id, dkim_selector, 'rsa', 'active', dkim_private_key,"
        " dkim_public_txt, created_at, created_at FROM domains"
    )
    op.create_table(
        "domain_status_changes",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("old_status", sa.String(length=8), nullable=True),
        sa.Column("new_status", sa.String(length=8), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_domain_status_changes_domain_id_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_status_changes")),
    )
    op.create_index(
        "ix_domain_status_changes_domain",
        "domain_status_changes",
        ["domain_id", "changed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_domain_status_changes_domain", table_name="domain_status_changes")
    op.drop_table("domain_status_changes")
    op.drop_table("dkim_keys")
