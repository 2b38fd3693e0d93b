"""One typed configuration object: an optional misiva.toml, overridden by MISIVA_* variables."""

from __future__ import annotations

import ipaddress
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
    # uvicorn's default of 5 s equals httpx's own idle expiry, so on a busy machine a client
    # could reuse a connection the server was closing: a request lost before an answer (the
    # soak bench saw one). Load balancers keep idle upstream connections for 60 s (AWS ALB,
    # nginx's keepalive_timeout 75 s): the server must outwait them, not the reverse.
    http_keepalive_seconds: float = Field(
        75.0,
        description="Seconds the HTTP server keeps an idle keep-alive connection open; keep it "
        "longer than the idle timeout of any proxy or load balancer in front.",
        gt=0,
    )
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
    outbound_ips: str = Field(
        "",
        description="The public IPv4/IPv6 addresses delivery connects from (comma-separated): "
        "what domain checks expect SPF to authorise and what the suggested SPF record lists. "
        "Empty: the addresses MISIVA_HOSTNAME resolves to.",
    )
    domain_check_interval_seconds: float = Field(
        6 * 3600.0,
        description="How often the scheduler re-checks each sending domain's DNS records "
        "(DKIM, SPF, DMARC, Return-Path); a record that broke raises a DomainCheckFailed event.",
        gt=0,
    )
    dkim_overlap_hours: float = Field(
        72.0,
        description="A rotation's new DKIM key is published this long (and found in the DNS) "
        "before it signs, so every DNS cache has seen it.",
        ge=0,
    )
    dkim_retire_hours: float = Field(
        168.0,
        description="A replaced DKIM key stays published this long after its last signature, "
        "for mail still in transit, before it is retired.",
        ge=0,
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
    # Rate limits on failed sign-ins per client address (docs/security.md). Token guesses
    # are hopeless against 122 random bits, but every wrong one still costs a query: the
    # limit keeps a flood cheap, and a success never clears the count, so an attacker's own
    # valid token or account cannot reset it between guesses.
    api_auth_failures: int = Field(
        30,
        description="Requests with a wrong server token a client address may make within "
        "MISIVA_API_AUTH_WINDOW_SECONDS; past that every token it sends gets HTTP 429 until "
        "the window has passed (requests with valid tokens never count).",
        ge=1,
    )
    api_auth_window_seconds: float = Field(
        60.0, description="The window, and the lockout, of MISIVA_API_AUTH_FAILURES.", gt=0
    )
    ui_login_failures: int = Field(
        10,
        description="Failed UI sign-ins a client address may make within "
        "MISIVA_UI_LOGIN_LOCKOUT_SECONDS before its sign-ins are refused (429) for that long.",
        ge=1,
    )
    ui_login_lockout_seconds: float = Field(
        900.0, description="The window, and the lockout, of MISIVA_UI_LOGIN_FAILURES.", gt=0
    )
    webhook_allow_private_targets: bool = Field(
        False,
        description="Let webhook URLs reach loopback, private (RFC 1918, fc00::/7), "
        "link-local and other non-public addresses. Off: such targets are refused when a "
        "webhook is saved and again at each post (after resolving the name), so a tenant "
        "cannot make Misiva call the services of its own network (SSRF).",
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
        True,
        description="Verify relay hosts' TLS certificates (MX delivery does only where an "
        "MTA-STS policy in enforce mode asks for it).",
    )
    shaping_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per receiving provider (google, microsoft, yahoo, apple, other, or "
        "other:MXDOMAIN), the ceiling and floor of MX delivery per worker: `rate` "
        "(transactions/s), `concurrency`, `min_rate`, `min_concurrency`; JSON in the "
        'environment, e.g. `{"yahoo": {"rate": 10}}`. Defaults: google 100/s 20, microsoft '
        "50/s 10, yahoo 30/s 10, apple 30/s 10, other 50/s 10; floors 0.2/s and 1.",
    )
    shaping_max_wait_seconds: float = Field(
        2.0,
        description="The longest a delivery waits in the worker for its provider's limit "
        "before it is put back in the queue until the provider has room.",
    )
    shaping_quiet_seconds: float = Field(
        60.0,
        description="After this long without a throttling reply (421, 451 4.7.x, 450 4.2.1) "
        "a provider's halved limits climb a tenth of their ceiling, and again each period.",
    )
    mta_sts: bool = Field(
        True, description="Respect recipient domains' MTA-STS policies (RFC 8461) over MX."
    )
    mta_sts_policy_url: str = Field(
        "https://mta-sts.{domain}/.well-known/mta-sts.txt",
        description="Where a domain's MTA-STS policy is fetched ({domain} is replaced); "
        "tests point it at a local HTTPS server.",
    )
    mta_sts_ca_file: str | None = Field(
        None,
        description="PEM file of the CAs trusted for MTA-STS (policy fetches and MX "
        "certificates) instead of the system's; for tests.",
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
    webhook_timeout_seconds: float = Field(
        10.0, description="Seconds a webhook receiver has to answer a post before it is retried."
    )
    webhook_lease_seconds: float = Field(
        60.0,
        description="How long a webhook dispatcher holds the posts it claimed; if it dies, "
        "another makes them after this (so a receiver may see such a post twice).",
    )
    retention_content_days: float = Field(
        45, description="Days after which a message's content (its MIME) is purged."
    )
    retention_days: float = Field(
        365, description="Days after which messages, their events and bounces are deleted."
    )
    spamd_addr: str | None = Field(
        None,
        description="host:port (or socket path) of SpamAssassin's spamd, which scores templates "
        "on demand and at publish. Unset: spam scoring says it is not configured.",
    )
    spam_threshold: float = Field(
        5.0,
        description="Spam score at or over which a marketer may not publish a template "
        "(developers and owners are warned). SpamAssassin's own default is 5.0.",
    )
    alert_interval_seconds: float = Field(
        60.0,
        description="How often the scheduler evaluates sending-health alerts (bounce, "
        "complaint and deferral rates, delivery time) from the rollups.",
        gt=0,
    )
    alert_sender: str | None = Field(
        None,
        description="From address of alert emails to a server's owners and developers, sent "
        "on its transactional stream; its domain must be a sending domain of the server. "
        "Unset (or not one of its domains): the emails go to the capture inbox.",
    )
    scheduled_poll_seconds: float = Field(
        1.0,
        description="The longest an idle scheduled-message releaser sleeps: messages another "
        "process schedules are seen within this (a trigger's send-now wakes its own process "
        "at once).",
        gt=0,
    )
    scheduled_batch_size: int = Field(
        100,
        description="Scheduled messages a releaser claims and accepts at once (per server, "
        "one accept each).",
        ge=1,
        le=500,
    )
    scheduled_lease_seconds: float = Field(
        30.0,
        description="How long a releaser holds the scheduled messages it claimed; if it dies, "
        "others release them after this. Keep it longer than a batch takes.",
        gt=0,
    )
    log_level: str = Field("INFO", description="Logging level.")

    @property
    def link_base(self) -> str:
        """Where recipients' clients reach the tracking endpoints."""
        return (self.public_url or f"http://{self.http_addr}").rstrip("/")

    @property
    def outbound_addresses(self) -> tuple[str, ...]:
        """MISIVA_OUTBOUND_IPS as a tuple of addresses."""
        return tuple(part.strip() for part in self.outbound_ips.split(",") if part.strip())

    @field_validator("outbound_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_address(part.strip())
        return value

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
