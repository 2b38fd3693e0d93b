"""People who use the web UI: roles, what each role may do, and their records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    DEVELOPER = "developer"
    MARKETER = "marketer"
    VIEWER = "viewer"


class Capability(StrEnum):
    """One thing a page or action needs; roles grant sets of them (ROLE_CAPABILITIES)."""

    READ = "read"
    EDIT_CONTENT = "edit-content"  # templates, layouts, offers
    # Publish content that fails the content checks (lint errors, a spam score over the
    # threshold), warned; without it such a publish is refused.
    PUBLISH_OVER_CHECKS = "publish-over-checks"
    MANAGE_CONTACTS = "manage-contacts"  # contacts, suppressions
    SEE_STATS = "see-stats"
    MANAGE_INTEGRATION = "manage-integration"  # servers, API tokens, domains, webhooks
    MANAGE_USERS = "manage-users"
    MANAGE_SERVERS = "manage-servers"  # create servers (owners only)
    SEE_AUDIT = "see-audit"
    ALL_SERVERS = "all-servers"


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.DEVELOPER: frozenset(
        {
            Capability.READ,
            Capability.EDIT_CONTENT,
            Capability.PUBLISH_OVER_CHECKS,
            Capability.SEE_STATS,
            Capability.MANAGE_INTEGRATION,
        }
    ),
    # Marketing owns the content and the audience, never the plumbing: no tokens, no domains.
    Role.MARKETER: frozenset(
        {
            Capability.READ,
            Capability.EDIT_CONTENT,
            Capability.MANAGE_CONTACTS,
            Capability.SEE_STATS,
        }
    ),
    Role.VIEWER: frozenset({Capability.READ, Capability.SEE_STATS}),
}


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    locale: str
    disabled: bool
    created_at: datetime
    # The servers a user other than an owner may act on.
    server_ids: frozenset[int] = field(default_factory=frozenset)

    def can(self, capability: Capability) -> bool:
        return capability in ROLE_CAPABILITIES[self.role]

    def may_see_server(self, server_id: int) -> bool:
        return self.can(Capability.ALL_SERVERS) or server_id in self.server_ids


@dataclass(frozen=True, slots=True)
class AuditEntry:
    user_id: int | None
    server_id: int | None
    action: str
    target: str
    details: dict[str, str]
    at: datetime
    id: int = 0
