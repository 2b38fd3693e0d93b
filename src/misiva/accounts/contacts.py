"""Contacts: validate profiles, upsert them, import them from CSV, erase them (GDPR)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from misiva.domain.clock import Clock, utcnow
from misiva.domain.contacts import STANDARD_FIELDS, Contact
from misiva.domain.errors import InvalidRequest, NotFound
from misiva.mail.addresses import parse_single_address
from misiva.storage import Database
from misiva.storage import contacts as contact_store
from misiva.storage import subscriptions as subscription_store

# API field → column; CSV headers may use either spelling (FirstName or first_name).
_COLUMNS = {name: re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower() for name in STANDARD_FIELDS}
_COLUMNS["ExternalID"] = "external_id"
_BY_SNAKE = {snake: api for api, snake in _COLUMNS.items()}
_LOCALE = re.compile(r"^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$")
IMPORT_BATCH = 500
ERASED = "erased@erased.invalid"


def contact_from_fields(server_id: int, fields: Mapping[str, Any]) -> Contact:
    """A profile from API-style fields; unknown keys and `Attributes` become attributes."""
    email = parse_single_address("Email", _text(fields.get("Email") or fields.get("email"))).email
    profile: dict[str, str | None] = {}
    attributes: dict[str, Any] = dict(fields.get("Attributes") or {})
    for key, value in fields.items():
        api_name = key if key in _COLUMNS else _BY_SNAKE.get(key.lower())
        if key.lower() == "email" or key == "Attributes":
            continue
        if api_name is None:
            attributes[key] = value
        else:
            profile[_COLUMNS[api_name]] = _text(value) or None
    locale = profile.get("locale")
    if locale and not _LOCALE.match(locale):
        raise InvalidRequest(f"Invalid 'Locale' value {locale!r}: use a tag such as es or es-MX.")
    return Contact(
        server_id=server_id,
        email=email.lower(),
        first_name=profile.get("first_name"),
        last_name=profile.get("last_name"),
        locale=locale,
        country=profile.get("country"),
        city=profile.get("city"),
        postal_address=profile.get("postal_address"),
        member_number=profile.get("member_number"),
        external_id=profile.get("external_id"),
        attributes=attributes,
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    raise InvalidRequest(f"Invalid contact value {value!r}: expected text.")


async def upsert_contact(
    db: Database, server_id: int, fields: Mapping[str, Any], *, clock: Clock = utcnow
) -> Contact:
    contact = contact_from_fields(server_id, fields)
    async with db.transaction() as tx:
        await contact_store.upsert_contacts(tx, [contact], clock())
        stored = await contact_store.get_contact(tx, server_id, contact.email)
    assert stored is not None
    return stored


async def get_contact(db: Database, server_id: int, email: str) -> Contact:
    async with db.transaction() as tx:
        found = await contact_store.get_contact(tx, server_id, email)
    if found is None:
        raise NotFound(f"No contact {email} on this server.")
    return found


async def erase_contact(db: Database, server_id: int, email: str) -> int:
    """Remove the profile, subscriptions and consent records, and anonymise the person in
    stored messages; returns how many messages."""
    async with db.transaction() as tx:
        existed = await contact_store.delete_contact(tx, server_id, email)
        messages = await contact_store.anonymise_messages(tx, server_id, email, ERASED)
        # Subscriptions and their consent proof go too; a suppression stays, so that an
        # erased person is never mailed again by mistake.
        await subscription_store.delete_for_address(tx, server_id, email)
    if not existed and not messages:
        raise NotFound(f"No contact {email} on this server.")
    return messages


@dataclass
class ImportReport:
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


async def import_csv(
    db: Database,
    server_id: int,
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
    clock: Clock = utcnow,
) -> ImportReport:
    """Import every valid row (upserting by email), report each rejected one with its reason."""
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"email", "Email"} & set(reader.fieldnames):
            raise InvalidRequest(f"{path} has no 'email' column in its header row")
        for batch in _batches(_rows(reader, server_id, report), IMPORT_BATCH):
            async with db.transaction() as tx:
                await contact_store.upsert_contacts(tx, batch, clock())
            report.imported += len(batch)
            if progress is not None:
                progress(len(batch))
    return report


def _rows(reader: csv.DictReader[str], server_id: int, report: ImportReport) -> Iterable[Contact]:
    seen: dict[str, None] = {}
    for row in reader:
        line = reader.line_num
        fields = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        try:
            contact = contact_from_fields(server_id, fields)
        except InvalidRequest as error:
            report.rejected.append((line, error.message))
            continue
        if contact.email in seen:
            report.rejected.append((line, f"{contact.email} appears twice; the first row wins"))
            continue
        seen[contact.email] = None
        yield contact


def _batches(rows: Iterable[Contact], size: int) -> Iterable[list[Contact]]:
    batch: list[Contact] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
