"""`misiva demo seed`: fill an empty database with a demo shop and days of its mail."""

from __future__ import annotations

import time

import typer

from misiva.cli.common import platform, run
from misiva.demo.seed import SERVER, SeedOptions, seed_demo

demo_app = typer.Typer(help="A demo installation to try the UI with.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")


@demo_app.command("seed")
def demo_seed(
    days: int = typer.Option(7, "--days", min=1, max=90, help="Days of past traffic."),
    messages: int = typer.Option(
        2000, "--messages", min=1, max=200_000, help="How many messages in all."
    ),
    seed: int = typer.Option(
        None, "--seed", help="Make the traffic the same every time (relative to now)."
    ),
    password: str = typer.Option(
        None,
        "--password",
        envvar="MISIVA_DEMO_PASSWORD",
        help="The demo users' password (12 characters or more); else one is made and printed.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Add the demo to a database that has servers (never changes them)."
    ),
) -> None:
    """Create the server "tienda" with contacts, users and DAYS of realistic traffic."""

    async def go() -> None:
        started = time.monotonic()
        async with platform() as p:
            options = SeedOptions(days, messages, seed, password, force)
            seeded = await seed_demo(p.db, options, link_base=p.settings.link_base)
        seconds = time.monotonic() - started
        typer.echo(
            f"server {SERVER} (ID {seeded.server.id}): {seeded.contacts} contacts, "
            f"{seeded.messages} messages, {seeded.events} events in {seconds:.1f} s"
        )
        typer.echo(f"API token (shown once): {seeded.api_token}")
        typer.echo(f"users: {', '.join(seeded.users)}")
        if password is None:
            typer.echo(f"password (shown once): {seeded.password}")

    run(go())
