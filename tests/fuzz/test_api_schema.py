"""schemathesis against Misiva's own OpenAPI document: every operation, called in-process on a
real migrated database (SQLite and PostgreSQL) with a real server token, must answer without a
5xx and with a response its declared schema allows."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzzing import LONG, PROFILE, SEED
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import build_platform

pytestmark = pytest.mark.slow


def _document() -> dict[str, Any]:
    # The document only: this platform never opens its database (the file is never made).
    unused = Path(tempfile.gettempdir()) / "misiva-fuzz-openapi-only.db"
    platform = build_platform(Settings(database_url=f"sqlite:///{unused}"))
    return create_app(platform.api_deps()).openapi()


# DMARC uploads are gzip or zip files: random bytes under those media types probe the unpacker.
schemathesis.serializer.alias(["application/gzip", "application/zip"], "application/octet-stream")


def _schema(coverage: bool) -> schemathesis.BaseSchema:
    # Loaded at import (schemathesis parametrizes at collection); calls go to a fixture's app.
    config = schemathesis.Config.from_dict(
        {"seed": SEED, "phases": {"coverage": {"enabled": coverage}}}
    )
    return schemathesis.openapi.from_dict(_document(), config=config)


# SQLite gets every phase: the coverage phase's boundary values (ids of 2**63) found the 500s.
# PostgreSQL, slower per call, gets random cases only under make test, everything under make fuzz.
sqlite_schema = _schema(coverage=True)
postgres_schema = _schema(coverage=LONG)
SQLITE = settings(settings.get_profile(PROFILE), max_examples=100 if LONG else 10)
POSTGRES = settings(settings.get_profile(PROFILE), max_examples=40 if LONG else 4)


# The brief's properties: no 5xx, and every answer one the document allows (status, media
# type, body). Not run: schemathesis's "valid data should be accepted" family, because Postmark
# answers a well-formed id that names nothing with 422 (ErrorCode 701, 1101, ...), and the
# `Allow` header of a 405 (Starlette lists the methods of the first route matching the path).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _call(case: schemathesis.Case, installation: Any) -> None:
    case.call_and_validate(
        app=installation.app,
        headers={"X-Postmark-Server-Token": installation.token},
        checks=CHECKS,
    )


@sqlite_schema.parametrize()
@SQLITE
def test_sqlite(case: schemathesis.Case, sqlite_installation: Any) -> None:
    _call(case, sqlite_installation)


@postgres_schema.parametrize()
@POSTGRES
def test_postgresql(case: schemathesis.Case, postgres_installation: Any) -> None:
    _call(case, postgres_installation)


def _workflow(installation: Any) -> Any:
    """schemathesis's state machine over the links it infers between operations (a list's
    ids into the reads, updates and deletes that take them), calling the fixture's app."""

    class Workflow(sqlite_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {
                "app": installation.app,
                "headers": {"X-Postmark-Server-Token": installation.token},
            }

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kw: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kw)

    return Workflow


def test_stateful_sqlite(sqlite_installation: Any) -> None:
    _workflow(sqlite_installation).run(
        settings=settings(
            settings.get_profile(PROFILE),
            max_examples=200 if LONG else 10,
            stateful_step_count=10,
        )
    )
