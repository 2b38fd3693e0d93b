"""The `misiva` command: every subcommand is a thin call into the layers below."""

from __future__ import annotations

import logging
import sys

import click
import typer
from pydantic import ValidationError

from misiva.cli import (
    admin,
    automation,
    blocks,
    contacts,
    db,
    demo,
    inspect,
    monitoring,
    promo,
    scheduled,
    smtp,
    templates,
    users,
)
from misiva.cli.common import run
from misiva.config import load_settings
from misiva.domain.errors import MisivaError
from misiva.runtime.serve import parse_only, serve

app = typer.Typer(
    help="Misiva: self-hosted transactional email with a Postmark-compatible API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db.register(app)
admin.register(app)
inspect.register(app)
contacts.register(app)
templates.register(app)
smtp.register(app)
users.register(app)
demo.register(app)
monitoring.register(app)
promo.register(app)
blocks.register(app)
automation.register(app)
scheduled.register(app)


@app.command("serve")
def serve_command(
    only: str = typer.Option(
        None,
        "--only",
        help="Comma-separated components to run: api, smtp, worker, webhooks, scheduler, "
        "bounces (default: all).",
    ),
) -> None:
    """Run the platform (HTTP API and delivery workers) until SIGTERM or SIGINT."""
    config = load_settings()
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run(serve(config, parse_only(only)))


def main() -> None:
    """Entry point: domain errors and bad settings become one line and exit code 1."""
    try:
        app(standalone_mode=False)
    except MisivaError as error:
        _fail(error.message)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting MISIVA_{field.upper()}: {first['msg']}")
    except OSError as error:
        _fail(str(error))
    except (typer.Abort, KeyboardInterrupt):
        _fail("aborted")
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)


def _fail(message: str) -> None:
    typer.echo(f"misiva: {message}", err=True)
    sys.exit(1)


if __name__ == "__main__":  # `python -m misiva.cli.main`: how serve starts its delivery child
    main()
