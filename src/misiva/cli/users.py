"""`misiva users create`: the people who sign in to the web UI, with their role and servers."""

from __future__ import annotations

import sys

import typer

from misiva.accounts.users import create_user
from misiva.cli.common import platform, run
from misiva.domain.errors import InvalidRequest
from misiva.domain.users import Role

users_app = typer.Typer(help="Web UI users.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    email: str = typer.Argument(..., help="The user's email, used to sign in."),
    role: str = typer.Option(
        ..., "--role", help="owner, developer, marketer or viewer (see docs/ui.md)."
    ),
    server: list[str] = typer.Option(
        [], "--server", help="A server the user may act on (repeat it); owners see all."
    ),
    name: str = typer.Option("", "--name", help="How the UI names the user."),
    locale: str = typer.Option("en", "--locale", help="The UI's language: en or es."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Create a user; the password is asked for (or read from stdin), never an argument."""
    try:
        chosen = Role(role.lower())
    except ValueError:
        raise InvalidRequest(
            f"unknown role {role!r}: owner, developer, marketer or viewer"
        ) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go() -> None:
        async with platform() as p:
            user = await create_user(
                p.db,
                email,
                password,
                chosen,
                name=name,
                server_names=tuple(server),
                locale=locale,
            )
        typer.echo(f"user {user.email} ({user.role.value}) created")

    run(go())
