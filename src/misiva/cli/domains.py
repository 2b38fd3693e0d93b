"""`misiva domains check | records | rotate-dkim`: a domain's DNS records and its DKIM keys."""

from __future__ import annotations

import sys

import typer

from misiva.accounts.domains import domain_keys, find_sending_domain, rotate_dkim
from misiva.cli.common import platform, print_json, run
from misiva.domain.dkim_keys import DkimKeyRecord, KeyAlgorithm
from misiva.domain.dns_checks import DomainCheck, RecordCheck, RecordStatus
from misiva.mail.published import PublishedRecord, records_to_publish

# How each status reads on a terminal, as the domains page shows it.
_MARKS = {
    RecordStatus.PASS: "ok  ",
    RecordStatus.WARN: "warn",
    RecordStatus.FAIL: "FAIL",
    RecordStatus.ERROR: "dns?",
}
_SERVER = typer.Option(None, "--server", help="The server, when several have this domain.")
_JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


def register(domains_app: typer.Typer) -> None:
    domains_app.command("check")(check)
    domains_app.command("records")(records)
    domains_app.command("rotate-dkim")(rotate)


def check(domain: str, server: str = _SERVER, as_json: bool = _JSON) -> None:
    """Check the domain's DKIM, SPF, DMARC and Return-Path records in the DNS now.

    Exits 1 when a record fails, 2 when the DNS did not answer (and none failed).
    """

    async def go() -> DomainCheck:
        async with platform() as p:
            found = await find_sending_domain(p.db, domain, server)
            return await p.domain_checker().check_domain(p.db, found)

    result = run(go())
    if as_json:
        print_json({"Domain": domain, "OK": result.ok, "Records": _json(result.records)})
    else:
        for record in result.records:
            _print_check(record)
    if result.failed:
        sys.exit(1)
    if any(r.status is RecordStatus.ERROR for r in result.records):
        sys.exit(2)


def records(domain: str, server: str = _SERVER, as_json: bool = _JSON) -> None:
    """Print the DNS records to publish; during a rotation, both selectors' keys."""

    async def go() -> list[PublishedRecord]:
        async with platform() as p:
            found = await find_sending_domain(p.db, domain, server)
            keys = await domain_keys(p.db, found)
            return records_to_publish(found.name, keys, p.domain_checker().setup)

    published = run(go())
    if as_json:
        print_json(
            [
                {
                    "Kind": r.kind.value,
                    "Host": r.name,
                    "Type": r.type,
                    "Value": r.value,
                    "KeyState": r.key_state.value if r.key_state else None,
                }
                for r in published
            ]
        )
        return
    for r in published:
        state = f"   ({r.key.algorithm.value} key, {r.key.state.value})" if r.key else ""
        typer.echo(f"{r.kind.value:<11} {r.name}  {r.type}  {r.value}{state}")


def rotate(
    domain: str,
    server: str = _SERVER,
    algorithm: KeyAlgorithm = typer.Option(
        KeyAlgorithm.RSA, "--algorithm", help="rsa (2048 bits) or ed25519 (signs beside RSA)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Start a DKIM key rotation: a new key at a new selector, to publish now; the scheduler
    signs with it once it is published and the overlap has passed, then retires the old."""

    async def go() -> tuple[DkimKeyRecord, str, float]:
        async with platform() as p:
            found = await find_sending_domain(p.db, domain, server)
            key = await rotate_dkim(p.db, found, algorithm)
            hours = p.settings.dkim_overlap_hours
            return key, found.name, hours

    key, name, hours = run(go())
    host = f"{key.selector}._domainkey.{name}"
    if as_json:
        print_json(
            {
                "Domain": name,
                "Selector": key.selector,
                "Algorithm": key.algorithm.value,
                "State": key.state.value,
                "DKIMHost": host,
                "DKIMTextValue": key.public_txt,
            }
        )
        return
    typer.echo(f"new {key.algorithm.value} key for {name}; publish this record now:")
    typer.echo(f"  {host}  TXT  {key.public_txt}")
    typer.echo(
        f"it signs once it is found in the DNS and {hours:g} hours have passed; keep the old "
        "key's record until `misiva domains records` no longer lists it."
    )


def _print_check(record: RecordCheck) -> None:
    typer.echo(f"[{_MARKS[record.status]}] {record.kind.value:<11} {record.name} {record.type}")
    for line in (record.problem, record.fix and f"fix: {record.fix}", *record.notes):
        if line:
            typer.echo(f"         {line}")
    if record.found and record.status is not RecordStatus.PASS:
        typer.echo(f"         found: {' | '.join(record.found)}")


def _json(checks: tuple[RecordCheck, ...]) -> list[dict[str, object]]:
    return [check.to_json() for check in checks]
