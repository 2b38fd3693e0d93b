"""`misiva servers`, `misiva domains` and `misiva send`: set up tenants and send by hand."""

from __future__ import annotations

import typer

from misiva.accounts.domains import add_domain
from misiva.accounts.servers import configure_server, create_server
from misiva.cli import domains
from misiva.cli.common import platform, print_json, run
from misiva.domain.dkim_keys import KeyAlgorithm
from misiva.domain.dns_checks import RecordKind
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError
from misiva.domain.message import SendFields
from misiva.mail.published import records_to_publish

servers_app = typer.Typer(
    help="Servers: the tenants, each with its API token.", no_args_is_help=True
)
domains_app = typer.Typer(help="Sending domains and their DKIM keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(servers_app, name="servers")
    app.add_typer(domains_app, name="domains")
    domains.register(domains_app)
    app.command("send")(send)


@servers_app.command("create")
def servers_create(
    name: str,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Create a server and print its API token (shown only this once)."""

    async def go() -> None:
        async with platform() as p:
            created = await create_server(p.db, name)
        if as_json:
            print_json(
                {
                    "ID": created.server.id,
                    "Name": created.server.name,
                    "ApiToken": created.api_token,
                }
            )
        else:
            typer.echo(f"server {created.server.name} (ID {created.server.id}) created")
            typer.echo(f"API token (shown once, keep it safe): {created.api_token}")

    run(go())


@servers_app.command("set")
def servers_set(
    name: str,
    default_locale: str = typer.Option(None, "--default-locale", help="e.g. es or en."),
    brand: list[str] = typer.Option(
        [],
        "--brand",
        help="KEY=VALUE brand settings templates read as server.brand.KEY "
        "(company_name, logo_url, primary_color, legal_address, support_email, website_url); "
        "an empty VALUE removes the key.",
    ),
) -> None:
    """Set a server's default locale and brand settings."""
    pairs = {}
    for item in brand:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MisivaError(f"--brand {item!r} is not KEY=VALUE")
        pairs[key.strip()] = value

    async def go() -> None:
        async with platform() as p:
            server = await configure_server(
                p.db, name, default_locale=default_locale, brand=pairs or None
            )
        typer.echo(f"server {server.name}: default locale {server.default_locale}")
        for key, value in sorted(server.brand.items()):
            typer.echo(f"  brand.{key} = {value}")

    run(go())


@domains_app.command("add")
def domains_add(
    domain: str,
    server: str = typer.Option(..., "--server", help="Name of the server that sends from it."),
    algorithm: KeyAlgorithm = typer.Option(
        KeyAlgorithm.RSA,
        "--algorithm",
        help="rsa: one 2048-bit RSA key; ed25519: an Ed25519 key too, each message signed "
        "with both (RFC 8463).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Add a sending domain: create its DKIM key and print the DNS records to publish."""

    async def go() -> None:
        async with platform() as p:
            added = await add_domain(p.db, domain, server, algorithm=algorithm)
            published = records_to_publish(
                added.domain.name, list(added.keys), p.domain_checker().setup
            )
        first = {r.kind: r for r in reversed(published)}
        dkim, spf, dmarc = first[RecordKind.DKIM], first[RecordKind.SPF], first[RecordKind.DMARC]
        if as_json:
            print_json(
                {
                    "Domain": added.domain.name,
                    "DKIMSelector": added.domain.dkim_selector,
                    "DKIMHost": dkim.name,
                    "DKIMTextValue": dkim.value,
                    "SPFHost": spf.name,
                    "SPFTextValue": spf.value,
                    "DMARCHost": dmarc.name,
                    "DMARCTextValue": dmarc.value,
                    "Records": [
                        {"Kind": r.kind.value, "Host": r.name, "Type": r.type, "Value": r.value}
                        for r in published
                    ],
                }
            )
            return
        typer.echo(f"domain {added.domain.name} added to {server}; publish these DNS records:")
        for r in published:
            typer.echo(f"  {r.name}  {r.type}  {r.value}   ({_WHAT[r.kind]})")

    run(go())


_WHAT = {
    RecordKind.DKIM: "DKIM",
    RecordKind.SPF: "SPF; merge with an existing one",
    RecordKind.DMARC: "DMARC; start with p=none",
    RecordKind.RETURN_PATH: "Return-Path: bounces come back, SPF aligns",
}


def send(
    server: str = typer.Option(..., "--server", help="Name of the sending server."),
    from_: str = typer.Option(..., "--from", help='Sender, e.g. "Shop <hello@example.com>".'),
    to: str = typer.Option(..., "--to", help="Recipients, comma-separated."),
    subject: str = typer.Option("", "--subject"),
    text: str = typer.Option(None, "--text", help="Plain-text body."),
    html: str = typer.Option(None, "--html", help="HTML body."),
    stream: str = typer.Option(None, "--stream", help="Message stream (default outbound)."),
) -> None:
    """Send one email through the same path as the API, and print its MessageID."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            fields = SendFields(
                from_=from_,
                to=to,
                subject=subject,
                text_body=text,
                html_body=html,
                message_stream=stream,
            )
            [result] = await p.ingestor.accept(context, [fields])
        if result.error_code != ErrorCode.OK:
            raise MisivaError(result.message, result.error_code)
        typer.echo(result.message_id)

    run(go())
