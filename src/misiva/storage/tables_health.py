"""The schema of sending health: the dashboard's rollups and their watermark, deferral and
latency rollups per stream and recipient domain, alert thresholds and alerts, and DMARC
aggregate reports with their records. On tables.metadata, like every other table (tables.py
imports this module)."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.tables import metadata
from misiva.storage.types import BigID, JSONType, UTCDateTime

# The dashboard's pre-aggregated counts: per server, step (an hour or a UTC day, both kept so
# a month reads thirty rows per value, a day twenty-four), its start, dimension and value (a
# stream, template id, tag, recipient domain or bounce reason; "" for the server's total) and
# metric. Folded from message_events by storage/rollups.py, so that charts over a month read
# a few thousand rows instead of millions of events; kept when retention deletes the events.
stats_rollups = sa.Table(
    "stats_rollups",
    metadata,
    sa.Column("server_id", sa.Integer, primary_key=True),
    sa.Column("step", sa.String(8), primary_key=True),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("start", UTCDateTime, primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("metric", sa.String(16), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Accept-to-first-delivery times as a histogram per server and hour: `bucket` indexes
# domain.stats.LATENCY_BOUNDS, so percentiles of any range come from summed bucket counts.
stats_latency = sa.Table(
    "stats_latency",
    metadata,
    sa.Column("server_id", sa.Integer, primary_key=True),
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# How far the rollups have read the event log: every event with an id up to last_event_id is
# counted. One row; folds lock it, so two never count the same events.
stats_watermark = sa.Table(
    "stats_watermark",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


# What the alerts read beside stats_rollups, folded in the same pass: deferred attempts and
# accept-to-first-delivery histograms per hour along a dimension ("all", "stream" or
# "domain", the recipient's; providers are families of domains, summed when read).
stats_deferrals = sa.Table(
    "stats_deferrals",
    metadata,
    sa.Column("server_id", sa.Integer, primary_key=True),
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

stats_latency_by = sa.Table(
    "stats_latency_by",
    metadata,
    sa.Column("server_id", sa.Integer, primary_key=True),
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# A server's own alert levels, where it differs from domain.alerts.DEFAULT_THRESHOLDS.
alert_thresholds = sa.Table(
    "alert_thresholds",
    metadata,
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), primary_key=True),
    sa.Column("metric", sa.String(24), primary_key=True),
    sa.Column("warning", sa.Float, nullable=False),
    sa.Column("danger", sa.Float, nullable=False),
    sa.Column("min_volume", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Alerts, open and resolved. `open_key` names what an open alert is about (metric, scope,
# subject, window) and is cleared on resolve: its unique constraint keeps one open alert per
# thing even with evaluators on several hosts (NULLs never collide).
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("metric", sa.String(24), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("window", sa.String(8), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("volume", sa.BigInteger, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Column("open_key", sa.String(320), nullable=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Since when the measure has stayed under the warning level: resolved a window later.
    sa.Column("below_since", UTCDateTime, nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("server_id", "open_key"),
    sa.Index("ix_alerts_server_opened", "server_id", "opened_at"),
)

# DMARC aggregate reports (RFC 7489 §7.2) received by mail or uploaded: one row per report,
# unique per reporter and report id so that a report sent twice is kept once.
dmarc_reports = sa.Table(
    "dmarc_reports",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("org_name", sa.String(255), nullable=False),
    sa.Column("org_email", sa.Text, nullable=False),
    sa.Column("report_id", sa.String(255), nullable=False),
    sa.Column("begin_at", UTCDateTime, nullable=False),
    sa.Column("end_at", UTCDateTime, nullable=False),
    sa.Column("domain", sa.String(253), nullable=False),
    # policy_published: p, sp, pct, adkim, aspf.
    sa.Column("policy", JSONType, nullable=False),
    sa.Column("messages", sa.BigInteger, nullable=False),
    sa.Column("passed", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "org_name", "report_id"),
    sa.Index("ix_dmarc_reports_server_domain", "server_id", "domain", "end_at"),
)

# A report's records: messages from one source IP with the same aligned results.
dmarc_records = sa.Table(
    "dmarc_records",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column(
        "dmarc_report_id",
        sa.BigInteger,
        sa.ForeignKey("dmarc_reports.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("source_ip", sa.String(45), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("disposition", sa.String(16), nullable=False),
    sa.Column("dkim", sa.String(8), nullable=False),
    sa.Column("spf", sa.String(8), nullable=False),
    sa.Column("header_from", sa.String(253), nullable=False),
    sa.Column("envelope_from", sa.String(253), nullable=False),
    # The raw DKIM and SPF results (auth_results), aligned or not.
    sa.Column("auth", JSONType, nullable=False),
)
