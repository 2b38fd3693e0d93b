"""`misiva triggers list` and `dry-run`, `misiva events show`: a server's rules, what one would
have done with a period's events, and what one event did (its rules' outcomes and messages)."""

from __future__ import annotations

import typer

from misiva.api.routes_events import event_view_json
from misiva.api.trigger_schemas import dry_run_json, trigger_json
from misiva.automation.dry_run import DryRun, dry_run, period
from misiva.automation.events import Events, EventView, parse_moment
from misiva.automation.rules import duration
from misiva.automation.triggers import Triggers
from misiva.cli.common import platform, print_json, run
from misiva.domain.automation import Trigger
from misiva.domain.clock import utcnow
from misiva.ingest.templated import contact_namespace

triggers_app = typer.Typer(
    help="Triggers: the rules that turn events into messages.", no_args_is_help=True
)
events_app = typer.Typer(
    help="Events the applications reported, and what they did.", no_args_is_help=True
)
_SERVER = typer.Option(..., "--server", help="Name of the server.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


def register(app: typer.Typer) -> None:
    app.add_typer(triggers_app, name="triggers")
    app.add_typer(events_app, name="events")


def _line(t: Trigger) -> str:
    d = t.definition
    delay = duration(d.delay) if d.delay else "at once"
    state = "paused" if t.paused else "running"
    condition = f"  when {d.condition}" if d.condition else ""
    return (
        f"{t.key:<24} v{t.version:<3} {state:<8} on {d.event_name:<24} "
        f"send {d.template} ({d.stream}) {delay}{condition}"
    )


@triggers_app.command("list")
def triggers_list(server: str = _SERVER, as_json: bool = _JSON) -> None:
    """A server's triggers by key: version, running or paused, event, template, delay."""

    async def go() -> list[Trigger]:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await Triggers(p.db).all(context.server.id)

    found = run(go())
    if as_json:
        print_json([trigger_json(t) for t in found])
        return
    if not found:
        typer.echo("no triggers")
    for trigger in found:
        typer.echo(_line(trigger))


@triggers_app.command("dry-run")
def triggers_dry_run(
    key: str = typer.Argument(..., help="The trigger's key."),
    server: str = _SERVER,
    since: str = typer.Option(None, "--since", help="From (ISO 8601; default: yesterday)."),
    until: str = typer.Option(None, "--until", help="Until (ISO 8601; default: today 00:00)."),
    as_json: bool = _JSON,
) -> None:
    """Which events of the period the trigger would have fired on, and what it would have
    sent (nothing is stored or sent)."""
    start, end = parse_moment(since, "--since"), parse_moment(until, "--until")

    async def go() -> DryRun:
        async with platform() as p:
            context = await p.directory.by_name(server)
            trigger = await Triggers(p.db).get(context.server.id, key)
            first, last = period(start, end, utcnow())
            return await dry_run(
                p.db,
                context.server,
                trigger.definition,
                contact_namespace,
                since=first,
                until=last,
            )

    found = run(go())
    if as_json:
        print_json({"Key": key, **dry_run_json(found)})
        return
    typer.echo(
        f"{found.since.isoformat()} .. {found.until.isoformat()}: {found.total} event(s), "
        f"{len(found.tried)} tried, would fire on {found.fired}"
    )
    for t in found.tried:
        what = f"send {t.send_at.isoformat()} {t.subject!r}" if t.send_at else t.reason
        typer.echo(f"{t.event.occurred_at.isoformat()}  {t.event.email:<32} {t.outcome}: {what}")


@events_app.command("show")
def events_show(
    event_id: str = typer.Argument(..., help="The EventID."),
    server: str = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """One event: its data, what each rule did with it and why, and the messages it produced."""

    async def go() -> EventView:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await Events(p.db, contact_namespace).get(context.server.id, event_id)

    view = run(go())
    if as_json:
        print_json(event_view_json(view))
        return
    e = view.event
    typer.echo(f"{e.name} {e.event_id} for {e.email} at {e.occurred_at.isoformat()}")
    for o in e.outcomes:
        detail = f"send at {o.send_at.isoformat()}" if o.send_at else o.reason
        typer.echo(f"  rule {o.trigger_key} v{o.version}: {o.outcome}  {detail}")
    if not e.outcomes:
        typer.echo("  no rule listens to this event")
    for m in view.messages:
        error = f"  ({m.error})" if m.error else ""
        typer.echo(f"  message {m.id} {m.status} at {m.send_at.isoformat()}{error}")
