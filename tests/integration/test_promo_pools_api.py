"""The promo pools API in-process (SQLite and PostgreSQL): create, import CSV and JSON,
generate, stock, and redemption with Postmark-style errors."""

from __future__ import annotations

import httpx

from misiva.domain.enums import ErrorCode


async def test_pool_lifecycle_through_the_api(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/promo-pools",
        json={
            "Key": "WELCOME10",
            "Description": "10% off the first order",
            "EndsAt": "2027-01-31T23:59:00+00:00",
            "Exhaustion": "fallback",
            "FallbackText": "WELCOME-AT-CHECKOUT",
            "LowStockThreshold": 2,
        },
    )
    assert created.status_code == 200, created.text
    assert created.json()["Stock"] == {"Total": 0, "Allocated": 0, "Redeemed": 0, "Available": 0}
    assert created.json()["LowStock"] is True

    csv = "code\nCSV-1\nnot a code\nCSV-2\nCSV-1\n"
    imported = await api.post(
        "/promo-pools/WELCOME10/codes", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert body["Added"] == 2
    assert [e["Line"] for e in body["Errors"]] == [3, 5]

    listed = await api.post("/promo-pools/WELCOME10/codes", json=["CSV-2", "JSON-1"])
    assert listed.json()["Added"] == 1 and listed.json()["Duplicates"] == ["CSV-2"]

    generated = await api.post(
        "/promo-pools/WELCOME10/generate", json={"Pattern": "W-####-??", "Count": 50}
    )
    assert generated.status_code == 200, generated.text
    assert generated.json()["Added"] == 50

    pool = (await api.get("/promo-pools/WELCOME10")).json()
    assert pool["Stock"]["Total"] == 53 and pool["LowStock"] is False
    assert pool["Exhaustion"] == "fallback" and pool["EndsAt"].startswith("2027-01-31")
    assert [p["Key"] for p in (await api.get("/promo-pools")).json()["Pools"]] == ["WELCOME10"]


async def test_redeem_reports_unknown_and_repeated_codes(api: httpx.AsyncClient) -> None:
    assert (await api.post("/templates", json=_TEMPLATE)).status_code == 200
    assert (await api.post("/promo-pools", json={"Key": "P"})).status_code == 200
    await api.post("/promo-pools/P/codes", json=["P-1"])
    sent = await api.post(
        "/email/withTemplate",
        json={"From": "hola@shop.test", "To": "ana@example.com", "TemplateAlias": "t"},
    )
    assert sent.status_code == 200, sent.text

    redeemed = await api.post("/promo-codes/P-1/redeem")
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["Recipient"] == "ana@example.com"
    assert redeemed.json()["MessageID"] == sent.json()["MessageID"]
    assert (await api.get("/promo-pools/P")).json()["Stock"]["Redeemed"] == 1

    again = await api.post("/promo-codes/P-1/redeem")
    assert again.status_code == 422
    assert again.json()["ErrorCode"] == ErrorCode.PROMO_CODE_ALREADY_REDEEMED
    unknown = await api.post("/promo-codes/NOPE/redeem")
    assert unknown.status_code == 422
    assert unknown.json()["ErrorCode"] == ErrorCode.PROMO_CODE_NOT_FOUND
    assert "NOPE" in unknown.json()["Message"]


async def test_bad_pools_are_refused(api: httpx.AsyncClient) -> None:
    for body in (
        {"Key": "has space"},
        {"Key": "X", "Exhaustion": "explode"},
        {"Key": "X", "Exhaustion": "fallback"},
        {"Key": "X", "EndsAt": "2027-01-01T00:00:00"},
    ):
        response = await api.post("/promo-pools", json=body)
        assert response.status_code == 422, body
    missing = await api.get("/promo-pools/NONE")
    assert missing.json()["ErrorCode"] == ErrorCode.PROMO_POOL_NOT_FOUND


_TEMPLATE = {
    "Name": "T",
    "Alias": "t",
    "Subject": "Hi",
    "HtmlBody": "<p>{{ promo_code('P') }}</p>",
    "TextBody": "{{ promo_code('P') }}",
}
