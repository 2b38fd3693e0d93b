"""The schema of event-triggered automation: the events applications report, the triggers
(rules) marketing owns and their versions, and the scheduled messages they (and sends with
`SendAt`) wait in. On tables.metadata, like every other table (tables.py imports this module)."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.tables import metadata
from misiva.storage.types import BigID, JSONType, UTCDateTime

# What happened, in the application's words (`order.placed`), to whom, with its data: the
# contact's activity history, and the model of the messages it leads to. `event_id` is the
# caller's idempotency key (or one Misiva made); `outcome` records, per trigger, whether it
# fired and why not, and what it scheduled (domain.automation.RuleOutcome as JSON).
app_events = sa.Table(
    "app_events",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("event_id", sa.String(100), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("outcome", JSONType, nullable=False),
    sa.UniqueConstraint("server_id", "event_id"),
    sa.Index("ix_app_events_contact", "server_id", "email", "occurred_at"),
    sa.Index("ix_app_events_name", "server_id", "name", "occurred_at"),
    # What was reported in the last hour, whenever it happened: the automation-error alert.
    sa.Index("ix_app_events_received", "server_id", "received_at"),
)

# A rule: on event `event_name`, when its condition holds, send a template later or now.
# `definition` is the current version's (domain.automation.TriggerDefinition as JSON), kept
# whole here for the hot path; every version is also in trigger_versions.
triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("event_name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("definition", JSONType, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "key"),
    sa.Index("ix_triggers_event", "server_id", "event_name"),
    # Never reuse a deleted rule's id (SQLite would): its events' outcomes and the messages
    # it scheduled name it, and must not count for a rule made later.
    sqlite_autoincrement=True,
)

trigger_versions = sa.Table(
    "trigger_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trigger_id", sa.Integer, sa.ForeignKey("triggers.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("definition", JSONType, nullable=False),
    sa.Column("author", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("trigger_id", "version"),
)

# A send that waits for its time: `fields` is the whole send as given (domain.message
# .SendFields as JSON), so a rule changed later never changes it; `id` is the MessageID it
# will be accepted with, which also makes its release idempotent (released twice, accepted
# once). Only waiting rows are in the due index, so the releaser's query costs nothing for
# the millions already sent.
scheduled_messages = sa.Table(
    "scheduled_messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("send_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fields", JSONType, nullable=False),
    sa.Column("trigger_id", sa.Integer, nullable=True),
    sa.Column("trigger_version", sa.Integer, nullable=True),
    sa.Column("app_event_id", BigID, nullable=True),
    sa.Column("leased_by", sa.String(32), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(
        "ix_scheduled_due",
        "send_at",
        sqlite_where=sa.text("status = 'scheduled'"),
        postgresql_where=sa.text("status = 'scheduled'"),
    ),
    sa.Index("ix_scheduled_server", "server_id", "status", "send_at"),
    sa.Index("ix_scheduled_trigger", "trigger_id", "email", "created_at"),
    sa.Index("ix_scheduled_event", "app_event_id"),
)
