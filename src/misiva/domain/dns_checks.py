"""What a sending domain's DNS check found: one line per record Misiva asks to publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RecordKind(StrEnum):
    DKIM = "dkim"
    SPF = "spf"
    DMARC = "dmarc"
    RETURN_PATH = "return-path"


@dataclass(frozen=True, slots=True)
class RecordCheck:
    """One record: where it goes, what to publish, what the DNS answered and whether it does."""

    kind: RecordKind
    name: str
    type: str
    expected: str
    found: tuple[str, ...]
    ok: bool
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "type": self.type,
            "expected": self.expected,
            "found": list(self.found),
            "ok": self.ok,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordCheck:
        return cls(
            kind=RecordKind(data["kind"]),
            name=str(data["name"]),
            type=str(data["type"]),
            expected=str(data["expected"]),
            found=tuple(str(v) for v in data.get("found", ())),
            ok=bool(data["ok"]),
            problem=str(data.get("problem", "")),
        )


@dataclass(frozen=True, slots=True)
class DomainCheck:
    checked_at: datetime
    records: tuple[RecordCheck, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records)

    def by_kind(self) -> dict[str, RecordCheck]:
        return {r.kind.value: r for r in self.records}
