"""`misiva contacts import` and `show`: load profiles from a CSV file, and show one with its
subscriptions and consent history."""

from __future__ import annotations

from pathlib import Path

import typer

from misiva.accounts.contacts import import_csv
from misiva.api.routes_subscriptions import consent_json, subscription_json
from misiva.cli.common import platform, print_json, run
from misiva.domain.contacts import Contact
from misiva.domain.errors import MisivaError
from misiva.storage import contacts as contact_store
from misiva.subscriptions.profile import address_profile

contacts_app = typer.Typer(
    help="Contacts: the profiles templates personalise with.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")


@contacts_app.command("import")
def contacts_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    server: str = typer.Option(..., "--server", help="Name of the server the contacts belong to."),
) -> None:
    """Import a CSV (header row: email, first_name / FirstName, ... ; other columns become
    attributes). Valid rows are imported, each rejected row is reported with its reason."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            rows = max(sum(1 for _ in file.open(encoding="utf-8-sig")) - 1, 0)
            with typer.progressbar(length=rows, label="importing") as bar:
                report = await import_csv(p.db, context.server.id, file, progress=bar.update)
        for line, reason in report.rejected:
            typer.echo(f"line {line}: rejected: {reason}", err=True)
        typer.echo(f"{report.imported} contact(s) imported, {len(report.rejected)} rejected")

    run(go())


@contacts_app.command("show")
def contacts_show(
    email: str = typer.Argument(..., help="The contact's email address."),
    server: str = typer.Option(..., "--server", help="Name of the server the contact is on."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """A contact's profile, subscriptions per stream (with suppressions) and consent history."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            async with p.db.reading() as tx:
                contact = await contact_store.get_contact(tx, context.server.id, email)
            profile = await address_profile(p.db, context.server.id, email)
        if contact is None and not profile.subscriptions and not profile.consent:
            raise MisivaError(f"no contact or subscription for {email} on server {server!r}")
        if as_json:
            print_json(
                {
                    "Email": profile.email,
                    "Profile": None if contact is None else _profile(contact),
                    "Subscriptions": [subscription_json(s) for s in profile.subscriptions],
                    "Suppressions": profile.suppressed,
                    "ConsentHistory": [consent_json(r) for r in profile.consent],
                }
            )
            return
        typer.echo(f"Contact {profile.email}")
        if contact is not None:
            for key, value in _profile(contact).items():
                if value:
                    typer.echo(f"  {key}: {value}")
        typer.echo("Subscriptions:")
        streams = sorted({s.stream for s in profile.subscriptions} | set(profile.suppressed))
        for stream in streams:
            found = next((s for s in profile.subscriptions if s.stream == stream), None)
            state = found.status.value if found else "-"
            reason = profile.suppressed.get(stream)
            suppressed = f"  suppressed ({reason})" if reason else ""
            typer.echo(f"  {stream:<20} {state:<13}{suppressed}")
        typer.echo("Consent history:")
        for r in profile.consent:
            where = " ".join(x for x in (r.ip or "", r.source or "") if x)
            typer.echo(f"  {r.at.isoformat()}  {r.stream:<15} {r.action.value:<18} {where}")

    run(go())


def _profile(contact: Contact) -> dict[str, object]:
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "locale": contact.locale,
        "member_number": contact.member_number,
        "city": contact.city,
        "country": contact.country,
        "attributes": contact.attributes,
    }
