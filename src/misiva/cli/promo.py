"""`misiva promo ...`: promo code pools from the command line (create, import a CSV,
generate from a pattern, see stock)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from misiva.api.routes_promo import import_json, pool_json
from misiva.authoring import promo_pools
from misiva.authoring.promo_pools import ImportResult, PoolView
from misiva.cli.common import platform, print_json, run
from misiva.domain.errors import MisivaError
from misiva.domain.promo import Exhaustion, parse_csv

promo_app = typer.Typer(help="Promo code pools.", no_args_is_help=True)
_SERVER = typer.Option(..., "--server", help="Name of the server.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


def register(app: typer.Typer) -> None:
    app.add_typer(promo_app, name="promo")


@promo_app.command("create")
def promo_create(
    key: str = typer.Argument(..., help="The pool's key, as templates name it: WELCOME10."),
    server: str = _SERVER,
    description: str = typer.Option("", "--description"),
    starts: datetime | None = typer.Option(None, "--starts", help="Valid from (UTC)."),
    ends: datetime | None = typer.Option(None, "--ends", help="Valid until (UTC)."),
    exhaustion: Exhaustion = typer.Option(
        Exhaustion.REFUSE, "--exhaustion", help="When no code is left: refuse, fallback, omit."
    ),
    fallback: str = typer.Option("", "--fallback", help="Text rendered by 'fallback'."),
    low_stock: int = typer.Option(0, "--low-stock", help="Alert when this few are left."),
    as_json: bool = _JSON,
) -> None:
    """Create a promo code pool."""

    async def go() -> PoolView:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await promo_pools.create_pool(
                p.db,
                context.server.id,
                key,
                description=description,
                starts_at=_utc(starts),
                ends_at=_utc(ends),
                exhaustion=exhaustion,
                fallback_text=fallback,
                low_stock_threshold=low_stock,
            )

    _show(run(go()), as_json)


@promo_app.command("import")
def promo_import(
    key: str = typer.Argument(..., help="The pool's key."),
    csv_file: Path = typer.Argument(..., help="A CSV file: codes in the first column."),
    server: str = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Import codes from a CSV file; bad lines are reported, the rest imported."""
    parsed = parse_csv(csv_file.read_text(encoding="utf-8-sig"))

    async def go() -> ImportResult:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await promo_pools.import_codes(p.db, context.server.id, key, parsed)

    _report(run(go()), as_json)


@promo_app.command("generate")
def promo_generate(
    key: str = typer.Argument(..., help="The pool's key."),
    pattern: str = typer.Argument(..., help="Such as WELCOME-####-???? (# digit, ? letter)."),
    count: int = typer.Argument(..., help="How many codes."),
    server: str = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Generate unique codes from a pattern into a pool."""

    async def go() -> ImportResult:
        async with platform() as p:
            context = await p.directory.by_name(server)
            return await promo_pools.generate(p.db, context.server.id, key, pattern, count)

    _report(run(go()), as_json)


@promo_app.command("stock")
def promo_stock(
    key: str | None = typer.Argument(None, help="One pool's key (default: every pool)."),
    server: str = _SERVER,
    as_json: bool = _JSON,
) -> None:
    """Each pool's stock: total, allocated, redeemed, available."""

    async def go() -> list[PoolView]:
        async with platform() as p:
            context = await p.directory.by_name(server)
            if key is not None:
                return [await promo_pools.pool_view(p.db, context.server.id, key)]
            return await promo_pools.list_pools(p.db, context.server.id)

    views = run(go())
    if as_json:
        print_json([pool_json(v) for v in views])
        return
    if not views:
        typer.echo(f"no promo pools on server {server}")
    for view in views:
        _show(view, False)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        raise MisivaError("give --starts and --ends in UTC, without a time zone")
    return value.replace(tzinfo=UTC)


def _show(view: PoolView, as_json: bool) -> None:
    if as_json:
        print_json(pool_json(view))
        return
    s = view.stock
    low = "  LOW STOCK" if view.low_stock else ""
    typer.echo(
        f"{view.pool.key}: {s.total} total, {s.allocated} allocated, {s.redeemed} redeemed, "
        f"{s.available} available (on exhaustion: {view.pool.exhaustion.value}){low}"
    )


def _report(result: ImportResult, as_json: bool) -> None:
    if as_json:
        print_json(import_json(result))
        return
    for line, message in result.errors:
        typer.echo(f"line {line}: {message}", err=True)
    if result.duplicates:
        typer.echo(f"{len(result.duplicates)} codes already held by the server, skipped", err=True)
    typer.echo(f"{result.added} codes added")
    _show(result.view, False)
