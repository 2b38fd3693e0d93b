"""A person's profile, per server and keyed by email: what one-to-one templates read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The standard fields, as the API spells them; everything else goes in `attributes`.
STANDARD_FIELDS = (
    "FirstName",
    "LastName",
    "Locale",
    "Country",
    "City",
    "PostalAddress",
    "MemberNumber",
    "ExternalID",
)


@dataclass(frozen=True, slots=True)
class Contact:
    server_id: int
    email: str
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    country: str | None = None
    city: str | None = None
    postal_address: str | None = None
    member_number: str | None = None
    external_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
