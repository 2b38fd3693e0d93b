"""Web UI accounts: create users, sign them in (argon2, throttled), and keep their sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.users import AuditEntry, Role, User
from misiva.mail.addresses import parse_single_address
from misiva.storage import Database
from misiva.storage import servers as server_store
from misiva.storage import users as user_store

# A working day: a marketer signs in once in the morning, not on every page.
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 12
# The languages the UI has catalogues for (misiva/web/locale).
LOCALES = ("en", "es")
_HASHER = PasswordHasher()
# Verified when the email is unknown, so that a wrong address costs as long as a wrong
# password and the timing tells nobody which addresses have accounts.
_DUMMY_HASH = _HASHER.hash("misiva-no-such-user")


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str


async def create_user(
    db: Database,
    email: str,
    password: str,
    role: Role,
    *,
    name: str = "",
    server_names: tuple[str, ...] = (),
    locale: str = "en",
    clock: Clock = utcnow,
) -> User:
    address = parse_single_address("Email", email).email.lower()
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"A password needs at least {MIN_PASSWORD} characters.")
    if locale not in LOCALES:
        raise InvalidRequest("The UI speaks en and es.")
    async with db.transaction() as tx:
        if await user_store.find_user_with_hash(tx, address) is not None:
            raise Conflict(f"a user {address} already exists")
        server_ids = set()
        for server_name in server_names:
            server = await server_store.find_server_by_name(tx, server_name)
            if server is None:
                raise NotFound(f"no server named {server_name!r}")
            server_ids.add(server.id)
        now = clock()
        user = await user_store.insert_user(
            tx,
            email=address,
            name=name or address.partition("@")[0],
            password_hash=_HASHER.hash(password),
            role=role,
            locale=locale,
            now=now,
            server_ids=frozenset(server_ids),
        )
        await user_store.insert_audit(
            tx, AuditEntry(None, None, "user.create", address, {"role": role.value}, now)
        )
    return user


async def sign_in(
    db: Database, email: str, password: str, *, clock: Clock = utcnow
) -> tuple[str, Session] | None:
    """A new session (its cookie value and what it holds) for the right password; None
    otherwise, after the same work either way."""
    async with db.reading() as tx:
        found = await user_store.find_user_with_hash(tx, email.strip())
    user, stored = found if found else (None, _DUMMY_HASH)
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    value = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = clock()
    async with db.transaction() as tx:
        if _HASHER.check_needs_rehash(stored):
            await user_store.update_password_hash(tx, user.id, _HASHER.hash(password))
        await user_store.insert_session(
            tx, _digest(value), user.id, csrf, now, now + SESSION_LIFETIME
        )
        await user_store.delete_expired_sessions(tx, now)
    return value, Session(user, csrf)


async def session_for(db: Database, value: str | None, *, clock: Clock = utcnow) -> Session | None:
    if not value:
        return None
    async with db.reading() as tx:
        found = await user_store.find_session(tx, _digest(value), clock())
    if found is None or found[0].disabled:
        return None
    return Session(found[0], found[1])


async def set_locale(db: Database, user: User, locale: str) -> None:
    """The language a user reads the UI in, chosen by themselves."""
    if locale not in LOCALES:
        raise InvalidRequest("The UI speaks en and es.")
    async with db.transaction() as tx:
        await user_store.update_locale(tx, user.id, locale)


async def sign_out(db: Database, value: str | None) -> None:
    if value:
        async with db.transaction() as tx:
            await user_store.delete_session(tx, _digest(value))


def _digest(value: str) -> str:
    """Sessions are stored by hash: a copy of the table opens no session."""
    return hashlib.sha256(value.encode()).hexdigest()
