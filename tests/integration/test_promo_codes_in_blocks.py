"""`promo_code('KEY')` inside a content block's HTML, on real sends through the API (SQLite and
PostgreSQL): the recipient the block is chosen for gets a code of their own, the same on a
re-send and the same the template shows when it names the pool too; one the block is not
chosen for takes no code; the pool's exhaustion rule applies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builders import Tenant
from misiva.authoring import promo_pools
from misiva.domain.enums import ErrorCode
from misiva.domain.promo import Exhaustion
from misiva.runtime.wiring import Platform

ORDER = {
    "Name": "Order",
    "Alias": "order",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": "<p>Order {{ order.number }} is confirmed.</p>{{ block('cross_sell') }}",
    "TextBody": "Order {{ order.number }} is confirmed.\n{{ block('cross_sell') }}",
}
MUG = {
    "Key": "mug",
    "Slot": "cross_sell",
    "Rule": "contact.country == 'ES'",
    "Contents": {
        "default": {
            "HtmlBody": "{% if promo_code('TAZA') %}<p>Mug code: <b>{{ promo_code('TAZA') }}</b>"
            "</p>{% endif %}"
        }
    },
}


async def _setup(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, codes: list[str], **pool: Any
) -> None:
    assert (await api.post("/templates", json=ORDER)).status_code == 200
    assert (await api.post("/content-blocks", json=MUG)).status_code == 200
    await promo_pools.create_pool(platform.db, tenant.server.id, "TAZA", **pool)
    await promo_pools.import_codes(
        platform.db, tenant.server.id, "TAZA", promo_pools.ParsedCodes(codes, [])
    )
    for email, country in (
        ("ana@example.com", "ES"),
        ("bea@example.com", "ES"),
        ("eva@example.com", "ES"),
        ("jean@example.com", "FR"),
    ):
        assert (await api.post("/contacts", json={"Email": email, "Country": country})).is_success


async def _send(api: httpx.AsyncClient, to: str, alias: str = "order") -> httpx.Response:
    return await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": to,
            "TemplateAlias": alias,
            "TemplateModel": {"order": {"number": "A-1"}},
        },
    )


async def _bodies(api: httpx.AsyncClient, sent: httpx.Response) -> tuple[str, str]:
    assert sent.status_code == 200, sent.text
    details = (await api.get(f"/messages/outbound/{sent.json()['MessageID']}/details")).json()
    return str(details["HtmlBody"]), str(details["TextBody"])


async def test_a_block_gives_its_recipient_a_code_of_their_own_and_keeps_it(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    await _setup(api, platform, tenant, ["T-1", "T-2"])
    ana_html, ana_text = await _bodies(api, await _send(api, "ana@example.com"))
    bea_html, _ = await _bodies(api, await _send(api, "bea@example.com"))
    again_html, _ = await _bodies(api, await _send(api, "Ana@Example.com"))
    ana_code = ana_html.split("Mug code: <b>")[1][:3]
    bea_code = bea_html.split("Mug code: <b>")[1][:3]
    assert {ana_code, bea_code} == {"T-1", "T-2"}
    assert f"Mug code: {ana_code}" in ana_text
    assert f"<b>{ana_code}</b>" in again_html
    # Jean is not in Spain: no block, so no code taken from the pool.
    jean_html, _ = await _bodies(api, await _send(api, "jean@example.com"))
    assert "Mug code" not in jean_html
    view = await promo_pools.pool_view(platform.db, tenant.server.id, "TAZA")
    assert (view.stock.allocated, view.stock.available) == (2, 0)
    # The pool is empty and refuses: Eva's send is refused, nothing queued.
    refused = await _send(api, "eva@example.com")
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == ErrorCode.PROMO_POOL_EXHAUSTED
    # The same pool named by the template and its block: one code, shown in both places.
    both = {
        **ORDER,
        "Name": "Both",
        "Alias": "both",
        "HtmlBody": "<p>Order {{ order.number }}: {{ promo_code('TAZA') }}</p>"
        "{{ block('cross_sell') }}",
    }
    assert (await api.post("/templates", json=both)).status_code == 200
    both_html, _ = await _bodies(api, await _send(api, "ana@example.com", "both"))
    assert f"A-1: {ana_code}</p>" in both_html and f"<b>{ana_code}</b>" in both_html


@pytest.mark.parametrize(
    ("rule", "shown"), [(Exhaustion.FALLBACK, "MUG-ALL"), (Exhaustion.OMIT, "")]
)
async def test_an_empty_pool_in_a_block_renders_its_fallback_or_nothing(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant, rule: Exhaustion, shown: str
) -> None:
    await _setup(api, platform, tenant, [], exhaustion=rule, fallback_text="MUG-ALL")
    html, _ = await _bodies(api, await _send(api, "ana@example.com"))
    if shown:
        assert f"Mug code: <b>{shown}</b>" in html
    else:
        assert "Mug code" not in html and "Order A-1 is confirmed." in html


async def test_a_block_naming_an_unknown_pool_refuses_the_send(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    assert (await api.post("/templates", json=ORDER)).status_code == 200
    assert (await api.post("/content-blocks", json=MUG)).status_code == 200
    assert (
        await api.post("/contacts", json={"Email": "ana@example.com", "Country": "ES"})
    ).is_success
    refused = await _send(api, "ana@example.com")
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == ErrorCode.PROMO_POOL_NOT_FOUND
    assert "content block" in refused.json()["Message"]
