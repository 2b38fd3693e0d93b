"""template test model: the studio's test data, kept with each template

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import JSONType

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("test_model", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("test_model")
