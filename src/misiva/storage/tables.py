"""The schema, one Table per concept; migrations are generated from and checked against it."""

from __future__ import annotations

import sqlalchemy as sa

from misiva.storage.types import BigID, JSONType, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

servers = sa.Table(
    "servers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The locale a template variant falls back to when neither send nor contact names one.
    sa.Column("default_locale", sa.String(35), nullable=False, server_default="en"),
    # Brand settings templates read as `server.brand` (logo, colours, legal address...).
    sa.Column("brand", JSONType, nullable=False, server_default="{}"),
    # Signs this server's tracking and unsubscribe tokens (hex); never leaves the server.
    sa.Column("secret", sa.String(64), nullable=False, server_default=""),
)

server_tokens = sa.Table(
    "server_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False, index=True),
    # SHA-256 of the token: the token itself is shown once and never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

streams = sa.Table(
    "streams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("stream_id", sa.String(30), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("stream_type", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Defaults for messages that do not say (Postmark's server/stream tracking settings).
    sa.Column("track_opens", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("track_links", sa.String(16), nullable=False, server_default="None"),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=True),
    # An archived stream takes no sends; Postmark purges it 45 days later, Misiva keeps it.
    sa.Column("archived_at", UTCDateTime, nullable=True),
    # Postmark's UnsubscribeHandlingType: "Postmark" means the platform adds List-Unsubscribe
    # (RFC 8058 one-click) and handles the unsubscribe; "None" and "Custom" leave it alone.
    sa.Column("unsubscribe_handling", sa.String(16), nullable=False, server_default="None"),
    # Misiva's subscription settings: sends need a confirmed (double opt-in) subscription;
    # the templates of the confirmation, welcome and unsubscribe-confirmation emails, which
    # leave from `notice_from` on the transactional `notice_stream`.
    sa.Column("require_opt_in", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("opt_in_template", sa.String(100), nullable=True),
    sa.Column("opt_in_ttl_hours", sa.Integer, nullable=False, server_default="48"),
    sa.Column("welcome_template", sa.String(100), nullable=True),
    sa.Column("unsubscribe_template", sa.String(100), nullable=True),
    sa.Column("notice_from", sa.Text, nullable=True),
    sa.Column("notice_stream", sa.String(30), nullable=False, server_default="outbound"),
    # The commercial-content policy: the largest share (percent) of a message's text that
    # content blocks may take on this stream; NULL is the default (lint.blocks, 30%).
    sa.Column("max_block_share", sa.SmallInteger, nullable=True),
    sa.UniqueConstraint("server_id", "stream_id"),
)

domains = sa.Table(
    "domains",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("dkim_selector", sa.String(63), nullable=False),
    sa.Column("dkim_private_key", sa.Text, nullable=False),
    sa.Column("dkim_public_txt", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The last DNS check: when, and per record what was found (domain.dns_checks, as JSON).
    sa.Column("dns_checked_at", UTCDateTime, nullable=True),
    sa.Column("dns_check", JSONType, nullable=True),
    sa.UniqueConstraint("server_id", "name"),
)

# A domain's DKIM keys, each with its rotation state (domain.dkim_keys): the active ones
# sign, pending and retiring ones stay published. domains.dkim_* keep the domain's first key.
dkim_keys = sa.Table(
    "dkim_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False),
    sa.Column("selector", sa.String(63), nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("private_key", sa.Text, nullable=False),
    sa.Column("public_txt", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("activated_at", UTCDateTime, nullable=True),
    sa.Column("retiring_at", UTCDateTime, nullable=True),
    sa.Column("retired_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("domain_id", "selector"),
)

# Each change of a DNS record's status found by a domain check (pass, warn, fail, error):
# the history behind the domains page, and what a "record broke" event is raised from.
domain_status_changes = sa.Table(
    "domain_status_changes",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("old_status", sa.String(8), nullable=True),
    sa.Column("new_status", sa.String(8), nullable=False),
    sa.Column("problem", sa.Text, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Index("ix_domain_status_changes_domain", "domain_id", "changed_at"),
)

# A message row is also its queue entry (transactional outbox): status, next_attempt_at and
# leased_by are the queue. While a worker holds a message, next_attempt_at is the end of its
# lease, so a crashed worker's messages become due again by themselves.
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sender", sa.Text, nullable=False),
    sa.Column("envelope_from", sa.Text, nullable=False),
    sa.Column("to_list", JSONType, nullable=False),
    sa.Column("cc_list", JSONType, nullable=False),
    sa.Column("bcc_list", JSONType, nullable=False),
    # recipient -> "pending" | "delivered" | "bounced"
    sa.Column("rcpt_state", JSONType, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("tag", sa.Text, nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("track_opens", sa.Boolean, nullable=True),
    sa.Column("track_links", sa.String(16), nullable=True),
    sa.Column("template_id", sa.Integer, nullable=True),
    sa.Column("template_version", sa.Integer, nullable=True),
    sa.Column("locale", sa.String(35), nullable=True),
    sa.Column("mime", sa.LargeBinary, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("leased_by", sa.String(32), nullable=True),
    sa.Column("accepted_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # domain.delivery.Priority: 0 transactional, 1 commercial; claimed in that order.
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"),
    # Only claimable rows are indexed for the claim query, so a table of a million delivered
    # messages costs the claim nothing; one range per priority (storage/queue.py).
    sa.Index(
        "ix_messages_due",
        "priority",
        "next_attempt_at",
        sqlite_where=sa.text("status IN ('queued', 'deferred')"),
        postgresql_where=sa.text("status IN ('queued', 'deferred')"),
    ),
    sa.Index("ix_messages_server_accepted", "server_id", "accepted_at"),
    # Retention looks for old messages of every server at once; the index above leads with
    # server_id, so only an index that leads with accepted_at spares it a full scan.
    sa.Index("ix_messages_accepted", "accepted_at"),
)

message_events = sa.Table(
    "message_events",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    # NULL for what happens to an address rather than to a message: a subscription confirmed
    # or changed in the preference centre.
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    # server_id and type let a server's events of one message be counted in this index alone:
    # without statistics, SQLite would otherwise prefer ix_message_events_server_type for
    # `server_id = ? AND type = ? AND message_id = ?` and read all the server's events of
    # that type.
    sa.Index("ix_message_events_message", "message_id", "server_id", "type", "id"),
    sa.Index("ix_message_events_server_type", "server_id", "type", "created_at"),
    # A conversion reported by recipient finds the messages that reached and engaged them
    # (feedback/conversions.py); only those types are indexed, so a send costs nothing more.
    sa.Index(
        "ix_message_events_recipient",
        "server_id",
        sa.func.lower(sa.column("recipient")),
        "created_at",
        sqlite_where=sa.text("type IN ('delivered', 'opened', 'clicked')"),
        postgresql_where=sa.text("type IN ('delivered', 'opened', 'clicked')"),
    ),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

captured_messages = sa.Table(
    "captured_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False, index=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("envelope_from", sa.Text, nullable=False),
    sa.Column("recipients", JSONType, nullable=False),
    sa.Column("mime", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_captured_messages_server", "server_id", "id"),
    # Retention deletes captured mail by age, across servers.
    sa.Index("ix_captured_messages_created", "created_at"),
)

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("alias", sa.String(100), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("template_type", sa.String(16), nullable=False),
    sa.Column("layout_alias", sa.String(100), nullable=True),
    # What sends use; versions above it are drafts.
    sa.Column("published_version", sa.Integer, nullable=True),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    # The studio's test data (Postmark's TestRenderModel): what the preview renders with.
    sa.Column("test_model", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "alias"),
)

# Immutable: a save appends a version; publish and rollback only move published_version.
template_versions = sa.Table(
    "template_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("templates.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    # locale -> {"Subject", "HtmlBody", "TextBody", "MjmlBody"}
    sa.Column("variants", JSONType, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("template_id", "number"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.Text, nullable=True),
    sa.Column("last_name", sa.Text, nullable=True),
    sa.Column("locale", sa.String(35), nullable=True),
    sa.Column("country", sa.Text, nullable=True),
    sa.Column("city", sa.Text, nullable=True),
    sa.Column("postal_address", sa.Text, nullable=True),
    sa.Column("member_number", sa.Text, nullable=True),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("attributes", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("server_id", "email"),
)

bounces = sa.Table(
    "bounces",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("sender", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("tag", sa.Text, nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("inactive", sa.Boolean, nullable=False),
    sa.Column("can_activate", sa.Boolean, nullable=False),
    # The raw returned message, when the bounce came back as mail (DSN / ARF).
    sa.Column("dump", sa.LargeBinary, nullable=True),
    sa.Column("bounced_at", UTCDateTime, nullable=False),
    sa.Index("ix_bounces_server_bounced", "server_id", "bounced_at"),
    sa.Index("ix_bounces_message", "message_id"),
    # Retention drops old bounces' dumps by age, across servers.
    sa.Index("ix_bounces_bounced", "bounced_at"),
)

# Per stream, as Postmark keeps them; sends to a suppressed address are refused (406).
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("server_id", sa.Integer, primary_key=True),
    sa.Column("stream", sa.String(30), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The preference centre reads one address across every stream.
    sa.Index("ix_suppressions_server_email", "server_id", "email"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("http_auth", JSONType, nullable=True),
    sa.Column("http_headers", JSONType, nullable=False),
    sa.Column("triggers", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The webhook outbox: one row per event and webhook, written in the event's transaction,
# delivered and retried by the dispatcher; a receiver that is down loses nothing.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id"), nullable=False),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("record_type", sa.String(32), nullable=False),
    # Built by the dispatcher at the first attempt and kept, so every retry sends the same bytes.
    sa.Column("payload", JSONType, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index("ix_webhook_deliveries_order", "webhook_id", "message_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

# One row per address and stream that ever asked to subscribe: its current state. Commercial
# streams that require opt-in send only to `confirmed` rows; unsubscribing also suppresses.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), primary_key=True),
    sa.Column("stream", sa.String(30), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=True),
    sa.Column("confirmed_at", UTCDateTime, nullable=True),
    sa.Column("unsubscribed_at", UTCDateTime, nullable=True),
    # A pending request's deadline: past it the confirmation link is refused and the row purged.
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("confirmation_message_id", sa.String(36), nullable=True),
    sa.Index("ix_subscriptions_server_email", "server_id", "email"),
    sa.Index(
        "ix_subscriptions_expiring",
        "expires_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# Consent proof, append-only: who asked, confirmed or withdrew, when, from which IP and user
# agent, through which source, and the text of the confirmation email they were sent.
consent_records = sa.Table(
    "consent_records",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.Integer, nullable=False),
    sa.Column("stream", sa.String(30), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("template_id", sa.Integer, nullable=True),
    sa.Column("template_version", sa.Integer, nullable=True),
    sa.Column("evidence", sa.Text, nullable=True),
    sa.Index("ix_consent_records_address", "server_id", "email", "id"),
)

# People who use the web UI. Passwords are argon2 hashes; a role says what they may do.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("locale", sa.String(35), nullable=False, server_default="en"),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Which servers a user other than an owner may see and act on.
user_servers = sa.Table(
    "user_servers",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id"), primary_key=True),
)

# Server-side sessions: the cookie holds a random id, only its SHA-256 is stored here.
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Who changed what, for owners to read.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("server_id", sa.Integer, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_audit_log_at", "at"),
)


# The dashboard's rollups, the alerts and DMARC reports are in their own module (this one
# would pass 500 lines); imported here so that `metadata` always holds them.
import misiva.storage.tables_automation  # noqa: E402
import misiva.storage.tables_blocks  # noqa: E402
import misiva.storage.tables_conversions  # noqa: E402
import misiva.storage.tables_health  # noqa: E402
import misiva.storage.tables_promo  # noqa: E402, F401
