"""Web UI accounts on SQLite and PostgreSQL: users, passwords, sessions, the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import T0, make_tenant
from misiva.accounts.users import SESSION_LIFETIME, create_user, session_for, sign_in, sign_out
from misiva.domain.errors import Conflict, InvalidRequest, NotFound
from misiva.domain.users import Capability, Role
from misiva.storage import Database
from misiva.storage import users as user_store

PASSWORD = "correct horse battery staple"


async def test_users_sign_in_hold_sessions_and_sign_out(db: Database) -> None:
    tenant = await make_tenant(db)
    user = await create_user(
        db, "Marta@Shop.test", PASSWORD, Role.MARKETER, server_names=("shop",), clock=lambda: T0
    )
    assert user.email == "marta@shop.test" and user.server_ids == {tenant.server.id}
    assert user.can(Capability.EDIT_CONTENT) and not user.can(Capability.MANAGE_INTEGRATION)
    assert user.may_see_server(tenant.server.id) and not user.may_see_server(999)
    assert await sign_in(db, "marta@shop.test", "wrong password!", clock=lambda: T0) is None
    assert await sign_in(db, "nobody@shop.test", PASSWORD, clock=lambda: T0) is None
    signed = await sign_in(db, "MARTA@shop.test", PASSWORD, clock=lambda: T0)
    assert signed is not None
    value, session = signed
    found = await session_for(db, value, clock=lambda: T0 + timedelta(hours=1))
    assert found is not None and found.user.id == user.id
    assert found.csrf_token == session.csrf_token
    later = T0 + SESSION_LIFETIME + timedelta(seconds=1)
    assert await session_for(db, value, clock=lambda: later) is None
    await sign_out(db, value)
    assert await session_for(db, value, clock=lambda: T0) is None
    async with db.reading() as tx:
        [entry] = await user_store.list_audit(tx)
    assert (entry.action, entry.target, entry.details) == (
        "user.create",
        "marta@shop.test",
        {"role": "marketer"},
    )


async def test_bad_users_are_refused(db: Database) -> None:
    await make_tenant(db)
    await create_user(db, "ana@shop.test", PASSWORD, Role.OWNER)
    with pytest.raises(Conflict):
        await create_user(db, "ANA@shop.test", PASSWORD, Role.OWNER)
    with pytest.raises(InvalidRequest, match="12 characters"):
        await create_user(db, "bea@shop.test", "short", Role.VIEWER)
    with pytest.raises(NotFound):
        await create_user(db, "bea@shop.test", PASSWORD, Role.VIEWER, server_names=("nope",))
