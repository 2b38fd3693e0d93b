"""`misiva scheduled list` and `cancel`: messages waiting for their time (a SendAt, a
trigger's delay), soonest first, and cancelling one that still waits."""

from __future__ import annotations

import typer

from misiva.api.routes_scheduled import parse_status, scheduled_json
from misiva.cli.common import platform, print_json, run
from misiva.domain.automation import ScheduledMessage
from misiva.domain.clock import utcnow
from misiva.ingest.schedule import cancel_scheduled
from misiva.storage import scheduled as scheduled_store

scheduled_app = typer.Typer(
    help="Scheduled messages: sends waiting for their time.", no_args_is_help=True
)
_SERVER = typer.Option(..., "--server", help="Name of the server.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")
CANCELLED_BY_CLI = "Cancelled from the command line."


def register(app: typer.Typer) -> None:
    app.add_typer(scheduled_app, name="scheduled")


@scheduled_app.command("list")
def scheduled_list(
    server: str = _SERVER,
    status: str = typer.Option(
        None, "--status", help="Only these: scheduled, sent, cancelled or failed."
    ),
    email: str = typer.Option(None, "--email", help="Only those for this recipient."),
    trigger: str = typer.Option(None, "--trigger", help="Only those of this trigger (key or id)."),
    count: int = typer.Option(100, "--count", min=1, max=500, help="How many to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="How many to skip."),
    as_json: bool = _JSON,
) -> None:
    """Scheduled messages, soonest first: id, status, send time, recipient, what it sends."""
    wanted = parse_status(status)

    async def go() -> tuple[int, list[ScheduledMessage]]:
        async with platform() as p:
            context = await p.directory.by_name(server)
            async with p.db.reading() as tx:
                server_id = context.server.id
                total = await scheduled_store.count_scheduled(
                    tx, server_id, status=wanted, email=email, trigger=trigger
                )
                found = await scheduled_store.list_scheduled(
                    tx,
                    server_id,
                    status=wanted,
                    email=email,
                    trigger=trigger,
                    limit=count,
                    offset=offset,
                )
            return total, found

    total, found = run(go())
    if as_json:
        print_json({"TotalCount": total, "ScheduledMessages": [scheduled_json(m) for m in found]})
        return
    if not found:
        typer.echo(f"no scheduled messages on server {server}")
        return
    for message in found:
        typer.echo(_line(message))
    if total > offset + len(found):
        typer.echo(f"({total} in all: --offset {offset + len(found)} for more)")


@scheduled_app.command("cancel")
def scheduled_cancel(
    message_id: str = typer.Argument(..., help="The scheduled message's MessageID."),
    server: str = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Cancel a scheduled message that still waits (not one sent, failed or cancelled)."""

    async def go() -> ScheduledMessage:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await cancel_scheduled(
                p.db, context.server.id, message_id, CANCELLED_BY_CLI, utcnow()
            )

    cancelled = run(go())
    if as_json:
        print_json(scheduled_json(cancelled))
        return
    typer.echo(f"cancelled {cancelled.id} (was due {cancelled.send_at.isoformat()})")


def _line(message: ScheduledMessage) -> str:
    fields = message.fields
    what = fields.get("template_alias") or fields.get("template_id")
    what = f"template {what}" if what else repr(fields.get("subject") or "")
    error = f"  error: {message.error}" if message.error else ""
    return (
        f"{message.id}  {message.status.value:<9}  {message.send_at.isoformat()}  "
        f"{message.email}  {what}{error}"
    )
