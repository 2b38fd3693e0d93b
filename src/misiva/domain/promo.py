"""Promo code pools: what a pool is, its stock, and the codes it is filled with (read from a
CSV file or generated from a pattern such as `WELCOME-####-????`)."""

from __future__ import annotations

import csv
import enum
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, tzinfo

from misiva.domain.errors import InvalidRequest

POOL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Generated codes leave out the letters a reader mistakes for digits (I, O).
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"
# Generation stops when a pattern cannot give that many distinct codes in reasonable tries.
_MAX_TRIES_PER_CODE = 20
MAX_GENERATE = 1_000_000
# A CSV of a few hundred thousand codes (100,000 codes are about 2 MB); larger stocks are
# imported in parts.
MAX_IMPORT_BYTES = 10 * 1024 * 1024


class Exhaustion(enum.StrEnum):
    """What a send that needs a code gets once the pool has none left."""

    REFUSE = "refuse"  # the send is refused with PROMO_POOL_EXHAUSTED
    FALLBACK = "fallback"  # `promo_code()` renders the pool's fallback text
    OMIT = "omit"  # `promo_code()` renders "", so `{% if promo_code(...) %}` omits the block


@dataclass(frozen=True, slots=True)
class PromoPool:
    id: int
    server_id: int
    key: str
    description: str
    starts_at: datetime | None
    ends_at: datetime | None
    exhaustion: Exhaustion
    fallback_text: str
    low_stock_threshold: int
    low_stock_alerted_at: datetime | None
    created_at: datetime

    def active_at(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (
            self.ends_at is None or now < self.ends_at
        )


@dataclass(frozen=True, slots=True)
class Stock:
    total: int
    allocated: int
    redeemed: int

    @property
    def available(self) -> int:
        return self.total - self.allocated


@dataclass(frozen=True, slots=True)
class ParsedCodes:
    """Codes read from an import, and the lines refused with why (1-based line numbers)."""

    codes: list[str]
    errors: list[tuple[int, str]]


def check_pool_key(key: str) -> str:
    if not POOL_KEY.match(key):
        raise InvalidRequest(
            f"'{key}' is not a valid pool key: 1 to 64 letters, digits, '_', '.' or '-'."
        )
    return key


def exhaustion_of(value: str) -> Exhaustion:
    try:
        return Exhaustion(value)
    except ValueError:
        raise InvalidRequest("Exhaustion must be refuse, fallback or omit.") from None


def parse_moment(value: str, name: str, zone: tzinfo | None = None) -> datetime:
    """A pool's start or end: ISO 8601 carrying a time zone, or taken in `zone` when one is
    given (the UI's date-time fields have none and show UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date and time.") from None
    if parsed.tzinfo is None:
        if zone is None:
            raise InvalidRequest(f"{name} must carry a time zone (such as 2026-12-31T23:59:00Z).")
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def parse_csv_bytes(raw: bytes) -> ParsedCodes:
    """An uploaded CSV file (UTF-8, with or without a byte-order mark), bounded in size."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidRequest(
            f"The CSV is larger than the {MAX_IMPORT_BYTES // 2**20} MB allowed; "
            "import it in parts."
        )
    return parse_csv(raw.decode("utf-8-sig", errors="replace"))


def parse_codes(lines: list[str]) -> ParsedCodes:
    """Codes from a list (a JSON import): each checked, duplicates within the list refused."""
    codes: list[str] = []
    errors: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        code = raw.strip()
        if not CODE.match(code):
            errors.append((number, f"'{code}' is not a valid code"))
        elif code in seen:
            errors.append((number, f"'{code}' appears twice in this import"))
        else:
            seen.add(code)
            codes.append(code)
    return ParsedCodes(codes, errors)


def parse_csv(text: str) -> ParsedCodes:
    """Codes from CSV text: the first column of each row (a header row named `code` is
    skipped, blank rows ignored); a bad row is reported by its line and the rest kept."""
    rows = list(csv.reader(io.StringIO(text)))
    codes: list[str] = []
    errors: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        cell = row[0].strip() if row else ""
        if not cell and not any(c.strip() for c in row):
            continue
        if number == 1 and cell.lower() == "code":
            continue
        if not CODE.match(cell):
            errors.append((number, f"'{cell}' is not a valid code"))
        elif cell in seen:
            errors.append((number, f"'{cell}' appears twice in this import"))
        else:
            seen.add(cell)
            codes.append(cell)
    return ParsedCodes(codes, errors)


def pattern_space(pattern: str) -> int:
    """How many distinct codes a pattern can give: `#` a digit, `?` a letter, `*` either."""
    space = 1
    for char in pattern:
        space *= {"#": len(_DIGITS), "?": len(_LETTERS), "*": len(_DIGITS + _LETTERS)}.get(char, 1)
    return space


def generate_codes(pattern: str, count: int, taken: set[str] | None = None) -> list[str]:
    """`count` distinct codes from `pattern`, none of them in `taken`, drawn with `secrets`
    so a code cannot be guessed from another."""
    if not 0 < count <= MAX_GENERATE:
        raise InvalidRequest(f"Count must be between 1 and {MAX_GENERATE}.")
    filled = pattern.replace("#", "0").replace("?", "A").replace("*", "A")
    if not any(c in pattern for c in "#?*") or not CODE.match(filled):
        raise InvalidRequest(
            f"'{pattern}' is not a valid pattern: letters, digits, '-', '_', with '#' for a "
            "digit, '?' for a letter and '*' for either."
        )
    taken = taken or set()
    # Half the space at most: past that, random draws spend most tries on duplicates.
    if count > (pattern_space(pattern) - len(taken)) // 2:
        raise InvalidRequest(
            f"The pattern '{pattern}' cannot give {count} distinct codes; add '#' or '?'."
        )
    codes: set[str] = set()
    tries = 0
    while len(codes) < count:
        tries += 1
        if tries > count * _MAX_TRIES_PER_CODE:  # pragma: no cover - the space check above
            raise InvalidRequest(f"The pattern '{pattern}' gives too many duplicates.")
        code = "".join(_draw(c) for c in pattern)
        if code not in taken:
            codes.add(code)
    return sorted(codes)


def _draw(char: str) -> str:
    if char == "#":
        return secrets.choice(_DIGITS)
    if char == "?":
        return secrets.choice(_LETTERS)
    if char == "*":
        return secrets.choice(_DIGITS + _LETTERS)
    return char
