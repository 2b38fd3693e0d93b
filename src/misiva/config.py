"""One typed configuration object: an optional misiva.toml, overridden by MISIVA_* variables."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "MISIVA_CONFIG"
DEFAULT_CONFIG_FILE = "misiva.toml"


class Settings(BaseSettings):
    """Everything Misiva can be told; built once by the CLI and passed down."""

    model_config = SettingsConfigDict(env_prefix="MISIVA_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/misiva.db",
        description="`sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB`; "
        "the async driver is picked by Misiva.",
    )
    http_addr: str = Field("127.0.0.1:8025", description="host:port of the HTTP API and UI.")
    public_url: str | None = Field(
        None,
        description="Base URL of tracking and unsubscribe links, e.g. https://mail.example.com "
        "(default: http://MISIVA_HTTP_ADDR).",
    )
    routes: str = Field(
        "*=capture",
        description="Where mail goes: comma-separated `PATTERN=TARGET`, first match wins. "
        "PATTERN is `example.com`, `*.example.com` or `*`; TARGET is `mx`, `capture` or "
        "`smtp://[user:pass@]host:port[?tls=none|starttls|implicit]`.",
    )
    dns_nameserver: str | None = Field(
        None, description="host:port of a DNS server to ask instead of the system's."
    )
    bounce_domain: str | None = Field(
        None,
        description="Domain of the per-message VERP return path (b+MESSAGEID@DOMAIN); its MX "
        "must point at the bounce receiver. Unset: the From address is the return path.",
    )
    bounce_addr: str = Field(
        "127.0.0.1:2526",
        description="host:port where the bounce receiver (SMTP) listens for returned mail.",
    )
    smtp_addr: str = Field(
        "127.0.0.1:2525",
        description="host:port of the SMTP submission server (AUTH with a server token as "
        "user name and password; STARTTLS when a certificate is set).",
    )
    smtps_addr: str | None = Field(
        None,
        description="host:port of an implicit-TLS SMTP submission port (RFC 8314, usually "
        "465); needs the certificate and key.",
    )
    smtp_tls_cert: str | None = Field(
        None, description="PEM certificate (chain) of the SMTP submission server."
    )
    smtp_tls_key: str | None = Field(
        None, description="PEM private key of the SMTP submission server."
    )
    smtp_loopback_plaintext_auth: bool = Field(
        True,
        description="Accept AUTH before TLS from clients on this host (127.0.0.0/8, ::1); "
        "everyone else must use STARTTLS or the implicit-TLS port first.",
    )
    smtp_auth_failures: int = Field(
        5,
        description="Failed AUTH attempts a client address may make within "
        "MISIVA_SMTP_AUTH_LOCKOUT_SECONDS before it is refused for that long.",
        ge=1,
    )
    smtp_auth_lockout_seconds: float = Field(
        300.0, description="The window, and the lockout, of MISIVA_SMTP_AUTH_FAILURES."
    )
    mx_port: int = Field(
        25, description="Port used for MX delivery (25 on the Internet; tests use another)."
    )
    hostname: str = Field(
        default_factory=socket.getfqdn,
        description="Name this host gives in EHLO when it delivers mail (default: its FQDN); "
        "receivers check that it resolves.",
    )
    retry_max_age_seconds: int = Field(
        48 * 3600,
        description="How long a deferred message is retried before it bounces (soft).",
    )
    retry_first_seconds: float = Field(
        30.0, description="Delay before the first retry; each later one doubles it."
    )
    retry_max_interval_seconds: float = Field(
        3600.0, description="The longest wait between two attempts."
    )
    lease_seconds: float = Field(
        300.0,
        description="How long a worker holds a claimed message before another may take it.",
    )
    processes: int = Field(
        0,
        description="Processes `misiva serve` runs when no --only is given: 1 runs everything "
        "in one; 2 runs delivery (worker, webhooks) in a second process; each one more is "
        "another API process on the same address. 0 chooses by the number of cores.",
        ge=0,
        le=16,
    )
    worker_batch_size: int = Field(200, description="Messages one worker claims at a time.")
    worker_concurrency: int = Field(
        200,
        description="Deliveries one worker runs at once (SMTP transactions in flight): a "
        "remote MX takes 100-500 ms a message, so a fast sender needs hundreds in flight.",
    )
    worker_poll_seconds: float = Field(
        1.0,
        description="How often an idle worker looks for due messages when nothing woke it.",
    )
    smtp_max_connections: int = Field(
        20,
        description="Open SMTP connections per destination host, per worker (Postfix's "
        "default destination concurrency is 20 too).",
    )
    smtp_connect_timeout: float = Field(30.0, description="Seconds to wait for a connection.")
    smtp_command_timeout: float = Field(60.0, description="Seconds to wait for each reply.")
    smtp_verify_certificates: bool = Field(
        True, description="Verify relay hosts' TLS certificates (MX delivery never does)."
    )
    webhook_first_retry_seconds: float = Field(
        30.0, description="Delay before a failed webhook post is retried; it doubles after."
    )
    webhook_retry_hours: float = Field(
        30.0, description="How long a webhook post is retried before it is marked failed."
    )
    webhook_poll_seconds: float = Field(
        1.0, description="How often the webhook dispatcher looks for posts to make."
    )
    retention_content_days: float = Field(
        45, description="Days after which a message's content (its MIME) is purged."
    )
    retention_days: float = Field(
        365, description="Days after which messages, their events and bounces are deleted."
    )
    log_level: str = Field("INFO", description="Logging level.")

    @property
    def link_base(self) -> str:
        """Where recipients' clients reach the tracking endpoints."""
        return (self.public_url or f"http://{self.http_addr}").rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgres:", "postgresql+")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        toml_file = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; pydantic reports any bad value with its field name."""
    return Settings(**overrides)


def settings_markdown() -> str:
    """docs/configuration.md, generated from the Settings fields so it cannot drift."""
    lines = [
        "# Configuration",
        "",
        "Misiva reads an optional `misiva.toml` (or the file named by `MISIVA_CONFIG`);",
        "every key can be overridden by an environment variable `MISIVA_<KEY>` (upper case).",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "" if default is None or info.default_factory else f"`{default}`"
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `MISIVA_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
