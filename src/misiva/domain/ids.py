"""Identifiers and secrets generated in one place (STYLE rule 15)."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_message_id() -> str:
    """A MessageID as Postmark spells it: a lower-case UUID string."""
    return str(uuid.uuid4())


def new_server_token() -> str:
    """A server API token; shown once, stored only as its hash."""
    return str(uuid.uuid4())


def new_worker_id() -> str:
    return "w-" + secrets.token_hex(6)


def hash_token(token: str) -> str:
    """SHA-256 is enough for tokens: they carry 122 random bits, unlike passwords (argon2)."""
    return hashlib.sha256(token.strip().lower().encode()).hexdigest()


def new_server_secret() -> str:
    """The key that signs a server's tracking and unsubscribe URLs (256 bits, hex)."""
    return secrets.token_hex(32)
