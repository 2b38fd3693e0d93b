"""What a sending domain's DNS check found: one line per record Misiva asks to publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# The label of a domain's own Return-Path name, `misiva-bounces.example.com`: a CNAME to the
# installation's bounce domain. Naming the platform (as Postmark's `pm-bounces` does) keeps
# it clear of names the domain already uses.
RETURN_PATH_LABEL = "misiva-bounces"


class RecordKind(StrEnum):
    DKIM = "dkim"
    SPF = "spf"
    DMARC = "dmarc"
    RETURN_PATH = "return-path"


class RecordStatus(StrEnum):
    """How a record stands: `pass` does its job; `warn` works but could be better (or could
    not be fully checked); `fail` is missing or wrong; `error` the DNS did not answer, so
    nothing is known (and nothing is reported as broken)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def good(self) -> bool:
        return self in (RecordStatus.PASS, RecordStatus.WARN)


@dataclass(frozen=True, slots=True)
class RecordCheck:
    """One record: where it goes, what to publish, what the DNS answered, how it stands, and
    (unless it passes) what is wrong and what to do about it, each in a sentence."""

    kind: RecordKind
    name: str
    type: str
    expected: str
    found: tuple[str, ...]
    status: RecordStatus
    problem: str = ""
    fix: str = ""
    # What else the check learned that is worth showing: the DMARC policy, SPF lookups...
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status.good

    @property
    def key(self) -> tuple[str, str]:
        """Records are told apart by kind and host name (two DKIM selectors in a rotation)."""
        return (self.kind.value, self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "type": self.type,
            "expected": self.expected,
            "found": list(self.found),
            "status": self.status.value,
            "ok": self.ok,
            "problem": self.problem,
            "fix": self.fix,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordCheck:
        # Checks stored before statuses existed have only "ok".
        status = data.get("status") or ("pass" if data.get("ok") else "fail")
        return cls(
            kind=RecordKind(data["kind"]),
            name=str(data["name"]),
            type=str(data["type"]),
            expected=str(data["expected"]),
            found=tuple(str(v) for v in data.get("found", ())),
            status=RecordStatus(status),
            problem=str(data.get("problem", "")),
            fix=str(data.get("fix", "")),
            notes=tuple(str(v) for v in data.get("notes", ())),
        )


@dataclass(frozen=True, slots=True)
class DomainCheck:
    checked_at: datetime
    records: tuple[RecordCheck, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records)

    @property
    def failed(self) -> tuple[RecordCheck, ...]:
        return tuple(r for r in self.records if r.status is RecordStatus.FAIL)

    def by_key(self) -> dict[tuple[str, str], RecordCheck]:
        return {r.key: r for r in self.records}

    def by_kind(self) -> dict[str, RecordCheck]:
        """The first record of each kind (the signing DKIM key comes first)."""
        found: dict[str, RecordCheck] = {}
        for record in self.records:
            found.setdefault(record.kind.value, record)
        return found


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A record whose status differs from the previous check's (None: it was not checked)."""

    record: RecordCheck
    old: RecordStatus | None
    at: datetime

    @property
    def broke(self) -> bool:
        """A record that was good and now fails: what raises an event and a webhook.

        A DNS timeout (`error`) is not a break: the record may well be there.
        """
        return self.old is not None and self.old.good and self.record.status is RecordStatus.FAIL


def status_changes(previous: DomainCheck | None, current: DomainCheck) -> list[StatusChange]:
    """The records of `current` whose status changed since `previous`."""
    before = previous.by_key() if previous else {}
    changes = []
    for record in current.records:
        old = before.get(record.key)
        if old is None or old.status is not record.status:
            changes.append(StatusChange(record, old.status if old else None, current.checked_at))
    return changes


@dataclass(frozen=True, slots=True)
class StatusHistoryEntry:
    """A stored status change, as the domains page and `misiva domains check` list them."""

    kind: RecordKind
    name: str
    old: RecordStatus | None
    new: RecordStatus
    problem: str
    at: datetime
