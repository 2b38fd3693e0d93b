"""Promo codes on real sends (SQLite and PostgreSQL): `promo_code('KEY')` in a stored
template gives each recipient a code of their own, the same one again on a re-send, and an
exhausted pool does what it says; on PostgreSQL, 2,000 concurrent sends against 1,500 codes."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from builders import Tenant
from misiva.authoring import promo_pools
from misiva.domain.enums import ErrorCode
from misiva.domain.message import SendFields
from misiva.domain.promo import Exhaustion
from misiva.runtime.wiring import Platform
from misiva.storage.tables_promo import promo_codes
from misiva.storage.tables_promo import promo_pools as promo_pools_table

WELCOME = {
    "Name": "Welcome",
    "Alias": "welcome",
    "Subject": "Welcome",
    "HtmlBody": (
        "<p>Thanks for your order.</p>"
        "{% if promo_code('WELCOME10') %}<p>Your code: <b>{{ promo_code('WELCOME10') }}</b></p>"
        "{% endif %}"
    ),
    "TextBody": "Thanks.{% if promo_code('WELCOME10') %} Code: {{ promo_code('WELCOME10') }}"
    "{% endif %}",
}


async def _send(api: httpx.AsyncClient, to: str) -> httpx.Response:
    return await api.post(
        "/email/withTemplate",
        json={"From": "hola@shop.test", "To": to, "TemplateAlias": "welcome"},
    )


async def _text(api: httpx.AsyncClient, message_id: str) -> str:
    details = await api.get(f"/messages/outbound/{message_id}/details")
    return str(details.json()["TextBody"])


async def _setup(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, codes: list[str], **pool: object
) -> None:
    assert (await api.post("/templates", json=WELCOME)).status_code == 200
    await promo_pools.create_pool(platform.db, tenant.server.id, "WELCOME10", **pool)  # type: ignore[arg-type]
    await promo_pools.import_codes(
        platform.db, tenant.server.id, "WELCOME10", promo_pools.ParsedCodes(codes, [])
    )


async def test_each_recipient_gets_a_code_of_their_own_and_keeps_it(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    await _setup(api, platform, tenant, ["W-1", "W-2"], low_stock_threshold=0)
    first = await _send(api, "ana@example.com")
    second = await _send(api, "Bob <bob@example.com>")
    again = await _send(api, "ANA@example.com")
    ids = [r.json()["MessageID"] for r in (first, second, again)]
    texts = [await _text(api, i) for i in ids]
    ana, bob, ana_again = (t.split("Code: ")[1].strip() for t in texts)
    assert {ana, bob} == {"W-1", "W-2"} and ana_again == ana
    view = await promo_pools.pool_view(platform.db, tenant.server.id, "WELCOME10")
    assert (view.stock.total, view.stock.allocated, view.stock.available) == (2, 2, 0)
    assert view.low_stock and view.pool.low_stock_threshold == 0
    # The pool is empty: a new recipient is refused with a clear error, nothing queued.
    refused = await _send(api, "eve@example.com")
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == ErrorCode.PROMO_POOL_EXHAUSTED
    assert "WELCOME10" in refused.json()["Message"]


@pytest.mark.parametrize(
    ("rule", "shown"), [(Exhaustion.FALLBACK, "Code: ASK-IN-STORE"), (Exhaustion.OMIT, None)]
)
async def test_an_exhausted_pool_renders_its_fallback_or_omits_the_block(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, rule: Exhaustion, shown: str
) -> None:
    await _setup(api, platform, tenant, ["ONLY-1"], exhaustion=rule, fallback_text="ASK-IN-STORE")
    assert "ONLY-1" in await _text(api, (await _send(api, "ana@example.com")).json()["MessageID"])
    late = await _send(api, "bob@example.com")
    assert late.status_code == 200, late.text
    text = await _text(api, late.json()["MessageID"])
    if shown is None:
        assert "Code:" not in text
    else:
        assert shown in text


async def test_an_unknown_pool_refuses_the_send(api: httpx.AsyncClient, platform: Platform) -> None:
    assert (await api.post("/templates", json=WELCOME)).status_code == 200
    refused = await _send(api, "ana@example.com")
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == ErrorCode.PROMO_POOL_NOT_FOUND


SENDS = 2_000
CODES = 1_500


async def test_concurrent_sends_never_share_a_code_on_postgresql(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    if not platform.db.is_postgres:
        pytest.skip("the concurrency proof is for PostgreSQL (SQLite serializes writers)")
    assert (await api.post("/templates", json=WELCOME)).status_code == 200
    await promo_pools.create_pool(platform.db, tenant.server.id, "WELCOME10")
    generated = await promo_pools.generate(
        platform.db, tenant.server.id, "WELCOME10", "WELCOME-####-????", CODES
    )
    assert generated.added == CODES
    context = await platform.directory.authenticate(tenant.token)

    async def send(n: int) -> tuple[str, int, str]:
        fields = SendFields(
            from_="hola@shop.test", to=f"person{n}@example.com", template_alias="welcome"
        )
        [result] = await platform.ingestor.accept(context, [fields])
        return f"person{n}@example.com", result.error_code, result.message_id or ""

    started = time.perf_counter()
    results = await asyncio.gather(*(send(n) for n in range(SENDS)))
    elapsed = time.perf_counter() - started
    print(f"{SENDS} concurrent sends, {CODES} codes: {elapsed:.1f} s")
    accepted = {message_id: to for to, code, message_id in results if code == ErrorCode.OK}
    refused = [code for _, code, _ in results if code != ErrorCode.OK]
    assert len(accepted) == CODES
    assert refused == [ErrorCode.PROMO_POOL_EXHAUSTED] * (SENDS - CODES)
    async with platform.db.reading() as tx:
        rows = (
            await tx.execute(
                sa.select(promo_codes.c.code, promo_codes.c.recipient, promo_codes.c.message_id)
            )
        ).all()
    given = [r for r in rows if r.recipient is not None]
    assert len({r.code for r in given}) == len({r.recipient for r in given}) == CODES
    # Each accepted message is the one its recipient's code was allocated for.
    assert {r.message_id: r.recipient for r in given} == accepted


async def test_low_stock_is_raised_once_at_the_threshold(
    api: httpx.AsyncClient,
    platform: Platform,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _setup(api, platform, tenant, ["L-1", "L-2", "L-3"], low_stock_threshold=1)
    with caplog.at_level(logging.WARNING, logger="misiva.ingest.promo"):
        await _send(api, "ana@example.com")
        assert not caplog.records
        await _send(api, "bob@example.com")  # 1 left: at the threshold
        await _send(api, "eve@example.com")
    [warning] = caplog.records
    assert "WELCOME10" in warning.getMessage() and "1 codes left" in warning.getMessage()
    pool = (await api.get("/promo-pools/WELCOME10")).json()
    assert pool["LowStock"] is True and pool["LowStockAlertedAt"] is not None
    # Restocking lifts the flag, so the next fall to the threshold alerts again.
    restocked = (await api.post("/promo-pools/WELCOME10/codes", json=["L-4", "L-5"])).json()
    assert restocked["Added"] == 2 and restocked["Pool"]["LowStockAlertedAt"] is None
    assert (await api.get("/promo-pools/WELCOME10")).json()["LowStockAlertedAt"] is None


async def test_a_pool_outside_its_dates_gives_no_new_codes_but_keeps_given_ones(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    await _setup(api, platform, tenant, ["D-1", "D-2"])
    ana = await _text(api, (await _send(api, "ana@example.com")).json()["MessageID"])
    async with platform.db.transaction() as tx:
        await tx.execute(sa.update(promo_pools_table).values(ends_at=now - timedelta(days=1)))
    again = await _send(api, "ana@example.com")
    assert again.status_code == 200
    assert (
        ana.split("Code: ")[1] == (await _text(api, again.json()["MessageID"])).split("Code: ")[1]
    )
    late = await _send(api, "bob@example.com")
    assert late.status_code == 422
    assert late.json()["ErrorCode"] == ErrorCode.PROMO_POOL_NOT_ACTIVE
