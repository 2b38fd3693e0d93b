"""What the operations pages change, on SQLite and PostgreSQL: API tokens made and revoked,
suppressions searched, and a webhook delivery log with its attempts and replay (sending
domains' DNS checks: tests/integration/test_domain_checks.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import T0, make_tenant
from misiva.accounts import servers as server_admin
from misiva.accounts.suppressions import add_suppressions
from misiva.domain.errors import NotFound, Unauthorized
from misiva.ingest.tenants import ServerDirectory
from misiva.storage import Database
from misiva.storage import suppressions as suppression_store
from misiva.storage import webhooks as webhook_store
from misiva.webhooks.admin import create_webhook, replay_delivery
from misiva.webhooks.targets import WebhookTargets

# The webhooks below point at 127.0.0.1, which is refused unless allowed (SSRF).
LOOPBACK_ALLOWED = WebhookTargets(allow_private=True)


async def test_a_token_is_made_listed_and_revoked(db: Database) -> None:
    tenant = await make_tenant(db)
    directory = ServerDirectory(db, ttl_seconds=3600)
    made = await server_admin.create_token(db, tenant.server.id, clock=lambda: T0)
    assert (await directory.authenticate(made.token)).server.id == tenant.server.id
    listed = await server_admin.list_tokens(db, tenant.server.id)
    assert [t.id for t in listed][-1] == made.info.id and len(listed) == 2
    token_hash = await server_admin.revoke_token(db, tenant.server.id, made.info.id)
    # Still cached for an hour, until the directory forgets it.
    assert (await directory.authenticate(made.token)).server.id == tenant.server.id
    directory.forget(token_hash)
    with pytest.raises(Unauthorized):
        await directory.authenticate(made.token)
    assert [t.id for t in await server_admin.list_tokens(db, tenant.server.id)] == [listed[0].id]
    # Another server's token, or one already revoked, is not found.
    with pytest.raises(NotFound):
        await server_admin.revoke_token(db, tenant.server.id + 1, listed[0].id)
    with pytest.raises(NotFound):
        await server_admin.revoke_token(db, tenant.server.id, made.info.id)


async def test_suppressions_are_searched_by_part_of_the_address(db: Database) -> None:
    tenant = await make_tenant(db)
    emails = ["ana_lopez@example.com", "analopez@example.com", "bea@example.org"]
    for n, email in enumerate(emails):
        await add_suppressions(
            db, tenant.server.id, "outbound", [email], clock=lambda n=n: T0 + timedelta(n)
        )
    async with db.reading() as tx:
        total, found = await suppression_store.search(tx, tenant.server.id, "outbound", None)
        assert total == 3 and [s.email for s in found] == emails[::-1]
        # "_" is the character typed, not LIKE's any-one-character.
        total, found = await suppression_store.search(tx, tenant.server.id, "outbound", "A_L")
        assert total == 1 and found[0].email == "ana_lopez@example.com"
        total, found = await suppression_store.search(
            tx, tenant.server.id, "outbound", "example", limit=1, offset=1
        )
        assert total == 3 and found[0].email == "analopez@example.com"
        assert (await suppression_store.search(tx, tenant.server.id, "broadcast", None))[0] == 0


async def test_the_delivery_log_shows_attempts_and_a_replay_requeues(db: Database) -> None:
    tenant = await make_tenant(db)
    hooks = [
        await create_webhook(
            db, tenant.server.id, {"Url": f"http://127.0.0.1:9/{n}"}, targets=LOOPBACK_ALLOWED
        )
        for n in range(2)
    ]
    async with db.transaction() as tx:
        await webhook_store.insert_deliveries(
            tx,
            [
                webhook_store.NewDelivery(h.id, tenant.server.id, None, n, "Delivery")
                for n, h in enumerate(hooks)
            ],
            T0,
        )
        rows = await webhook_store.list_deliveries(tx, tenant.server.id, webhook_id=hooks[0].id)
        [delivery] = rows
        await webhook_store.record_attempts(
            tx,
            [
                webhook_store.AttemptOutcome(
                    delivery["id"], T0, 500, 12.5, "HTTP 500", webhook_store.FAILED, T0, {}
                )
            ],
        )
    async with db.reading() as tx:
        attempts = await webhook_store.attempts_for(tx, [delivery["id"], delivery["id"] + 1])
        assert [a["status_code"] for a in attempts[delivery["id"]]] == [500]
        assert attempts[delivery["id"] + 1] == []
        assert await webhook_store.attempts_for(tx, []) == {}
    later = T0 + timedelta(hours=1)
    await replay_delivery(db, tenant.server.id, delivery["id"], clock=lambda: later)
    async with db.reading() as tx:
        [again] = await webhook_store.list_deliveries(tx, tenant.server.id, webhook_id=hooks[0].id)
    assert again["status"] == webhook_store.PENDING and again["next_attempt_at"] == later
    with pytest.raises(NotFound):
        await replay_delivery(db, tenant.server.id + 1, delivery["id"])
