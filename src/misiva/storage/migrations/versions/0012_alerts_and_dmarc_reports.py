"""alerts and DMARC reports: alert thresholds and alerts, deferral and latency rollups per
stream and recipient domain, and DMARC aggregate reports with their records

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from misiva.storage.types import BigID, JSONType, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_deferrals",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "server_id", "hour", "dimension", "value", name=op.f("pk_stats_deferrals")
        ),
    )
    op.create_table(
        "stats_latency_by",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "server_id", "hour", "dimension", "value", "bucket", name=op.f("pk_stats_latency_by")
        ),
    )
    op.create_table(
        "alert_thresholds",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("warning", sa.Float(), nullable=False),
        sa.Column("danger", sa.Float(), nullable=False),
        sa.Column("min_volume", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_alert_thresholds_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("server_id", "metric", name=op.f("pk_alert_thresholds")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("open_key", sa.String(length=320), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("below_since", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_alerts_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("server_id", "open_key", name=op.f("uq_alerts_server_id_open_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_server_opened", ["server_id", "opened_at"], unique=False)
    op.create_table(
        "dmarc_reports",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("org_name", sa.String(length=255), nullable=False),
        sa.Column("org_email", sa.Text(), nullable=False),
        sa.Column("report_id", sa.String(length=255), nullable=False),
        sa.Column("begin_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("policy", JSONType, nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_dmarc_reports_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dmarc_reports")),
        sa.UniqueConstraint(
            "server_id",
            "org_name",
            "report_id",
            name=op.f("uq_dmarc_reports_server_id_org_name_report_id"),
        ),
    )
    with op.batch_alter_table("dmarc_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dmarc_reports_server_domain", ["server_id", "domain", "end_at"], unique=False
        )
    op.create_table(
        "dmarc_records",
        sa.Column("id", BigID, autoincrement=True, nullable=False),
        sa.Column("dmarc_report_id", sa.BigInteger(), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("dkim", sa.String(length=8), nullable=False),
        sa.Column("spf", sa.String(length=8), nullable=False),
        sa.Column("header_from", sa.String(length=253), nullable=False),
        sa.Column("envelope_from", sa.String(length=253), nullable=False),
        sa.Column("auth", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["dmarc_report_id"],
            ["dmarc_reports.id"],
            name=op.f("fk_dmarc_records_dmarc_report_id_dmarc_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dmarc_records")),
    )
    with op.batch_alter_table("dmarc_records", schema=None) as batch_op:
        batch_op.create_index("ix_dmarc_records_dmarc_report_id", ["dmarc_report_id"], unique=False)


def downgrade() -> None:
    op.drop_table("dmarc_records")
    op.drop_table("dmarc_reports")
    op.drop_table("alerts")
    op.drop_table("alert_thresholds")
    op.drop_table("stats_latency_by")
    op.drop_table("stats_deferrals")
