"""`misiva messages show` and `misiva inbox`: read what happened and what was captured."""

from __future__ import annotations

import typer

from misiva.cli.common import platform, print_json, run
from misiva.domain.errors import NotFound
from misiva.storage import capture as capture_store
from misiva.storage import events as event_store
from misiva.storage import messages as message_store

messages_app = typer.Typer(help="Messages and their timelines.", no_args_is_help=True)
inbox_app = typer.Typer(help="The capture inbox (route target `capture`).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(messages_app, name="messages")
    app.add_typer(inbox_app, name="inbox")


@messages_app.command("show")
def messages_show(message_id: str) -> None:
    """A message's status, recipients and timeline of events."""

    async def go() -> None:
        async with platform() as p, p.db.transaction() as tx:
            message = await message_store.get_message(tx, message_id)
            if message is None:
                raise NotFound(f"no message {message_id}")
            events = await event_store.list_events(tx, message.id)
        typer.echo(f"Message {message.id}  status: {message.status}  attempts: {message.attempts}")
        typer.echo(f"From: {message.sender}")
        typer.echo(f"Subject: {message.subject}")
        for recipient, state in message.rcpt_state.items():
            typer.echo(f"  {recipient}: {state}")
        typer.echo("Timeline:")
        for event in events:
            where = f" via {event.details['host']}" if event.details.get("host") else ""
            reply = f"  {event.details['reply']}" if event.details.get("reply") else ""
            when = event.created_at.isoformat()
            typer.echo(f"  {when}  {event.type:<9}  {event.recipient}{where}{reply}")

    run(go())


@inbox_app.command("list")
def inbox_list(
    count: int = typer.Option(20, "--count", min=1, max=500),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The newest captured messages."""

    async def go() -> None:
        async with platform() as p, p.db.transaction() as tx:
            total, found = await capture_store.list_captured(tx, limit=count)
        if as_json:
            print_json(
                {
                    "TotalCount": total,
                    "Messages": [
                        {
                            "MessageID": c.message_id,
                            "Recipients": c.recipients,
                            "CapturedAt": c.created_at.isoformat(),
                        }
                        for c in found
                    ],
                }
            )
            return
        typer.echo(f"{total} captured message(s)")
        for c in found:
            typer.echo(
                f"  {c.created_at:%Y-%m-%d %H:%M:%S}  {c.message_id}  {', '.join(c.recipients)}"
            )

    run(go())


@inbox_app.command("show")
def inbox_show(message_id: str) -> None:
    """Print a captured message exactly as it would have been sent (signed raw MIME)."""

    async def go() -> None:
        async with platform() as p, p.db.transaction() as tx:
            found = await capture_store.get_captured_for_message(tx, message_id.lower())
        if not found:
            raise NotFound(f"no captured message {message_id}")
        typer.echo(found[-1].mime.decode("utf-8", errors="replace"))

    run(go())
