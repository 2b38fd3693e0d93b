"""`misiva blocks list` and `test`: a server's content blocks, and which block a contact's
slot would get (the rule tester, as a send sees the contact and the model)."""

from __future__ import annotations

import json

import typer

from misiva.api.routes_content_blocks import block_json
from misiva.authoring.content_blocks import ContentBlocks
from misiva.cli.common import platform, print_json, run
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.ingest.templated import contact_namespace

blocks_app = typer.Typer(
    help="Content blocks: the snippets that fill a template's block('slot').",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(blocks_app, name="blocks")


@blocks_app.command("list")
def blocks_list(
    server: str = typer.Option(..., "--server", help="Name of the server the blocks are on."),
    slot: str = typer.Option(None, "--slot", help="Only the blocks of this slot."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Blocks by slot, highest priority first: id, key, priority, schedule, rule, variants."""

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            blocks = await ContentBlocks(p.db).list(context.server.id, slot)
        if as_json:
            print_json([block_json(b) for b in blocks])
            return
        for b in blocks:
            splits = " ".join(f"{v.name}:{v.split}%" for v in b.variants)
            window = f"{b.starts_at or '-'} .. {b.ends_at or '-'}"
            typer.echo(
                f"{b.id:>5}  {b.slot:<16} {b.key:<24} p={b.priority:<4} {window}  {splits}"
                f"  rule: {b.rule or '(everyone)'}"
            )

    run(go())


@blocks_app.command("test")
def blocks_test(
    block_id: int = typer.Argument(..., help="The block's id (see `misiva blocks list`)."),
    email: str = typer.Option(..., "--email", help="The contact to test the rule on."),
    server: str = typer.Option(..., "--server", help="Name of the server the block is on."),
    model: str = typer.Option("{}", "--model", help="The template model, as JSON."),
) -> None:
    """Does the block's rule match this contact and model; which variant; which block of its
    slot would a send fill with."""
    try:
        given = json.loads(model)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"--model is not JSON: {error}", ErrorCode.INVALID_JSON) from None
    if not isinstance(given, dict):
        raise InvalidRequest("--model must be a JSON object.", ErrorCode.INVALID_JSON)

    async def go() -> None:
        async with platform() as p:
            context = await p.directory.by_name(server)
            found = await ContentBlocks(p.db).test(
                context.server.id, block_id, email, given, contact_namespace
            )
        typer.echo(f"rule matches: {'yes' if found.matches else 'no'}")
        typer.echo(f"variant: {found.variant or '-'}")
        typer.echo(f"fills the slot: {'yes' if found.fills_slot else 'no'}")
        typer.echo(f"the slot would get block: {found.chosen_block_id or 'none'}")

    run(go())
