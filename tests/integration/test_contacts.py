"""Contacts over the API and the CSV import, on both databases; erasure anonymises messages."""

from __future__ import annotations

from pathlib import Path

import httpx

from builders import Tenant
from misiva.accounts.contacts import import_csv
from misiva.runtime.wiring import Platform
from misiva.storage import messages as message_store


async def test_upsert_read_search_and_update(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/contacts",
        json={
            "Email": "Ana@Example.com",
            "FirstName": "Ana",
            "Locale": "es-MX",
            "MemberNumber": 1234,
            "Attributes": {"promo_code": "ANA10"},
            "tier": "gold",
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["Email"] == "ana@example.com" and body["MemberNumber"] == "1234"
    assert body["Attributes"] == {"promo_code": "ANA10", "tier": "gold"}
    await api.post("/contacts", json={"Email": "ana@example.com", "FirstName": "Ana María"})
    read = (await api.get("/contacts/ANA@example.com")).json()
    assert read["FirstName"] == "Ana María"
    found = (await api.get("/contacts", params={"query": "maría"})).json()
    assert found["TotalCount"] == 1
    missing = await api.get("/contacts/nobody@example.com")
    assert missing.status_code == 422


async def test_bad_contacts_are_refused(api: httpx.AsyncClient) -> None:
    for body in (
        {"FirstName": "x"},
        {"Email": "not-an-address"},
        {"Email": "a@example.com", "Locale": "spanish!"},
    ):
        response = await api.post("/contacts", json=body)
        assert response.status_code == 422 and response.json()["ErrorCode"] == 300


async def test_erasure_removes_profile_and_anonymises_messages(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    await api.post("/contacts", json={"Email": "ana@example.com", "FirstName": "Ana"})
    sent = (
        await api.post(
            "/email",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "TextBody": "x",
                "Metadata": {"n": "1"},
            },
        )
    ).json()
    erased = await api.delete("/contacts/ana@example.com")
    assert erased.status_code == 200 and "1 stored message" in erased.json()["Message"]
    async with platform.db.transaction() as tx:
        message = await message_store.get_message(tx, sent["MessageID"])
    assert message is not None and message.metadata == {} and message.mime == b""
    assert "ana@example.com" not in message.rcpt_state
    assert (await api.get("/contacts/ana@example.com")).status_code == 422


async def test_csv_import_reports_rejected_rows_and_imports_the_rest(
    platform: Platform, tenant: Tenant, tmp_path: Path
) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(
        "email,first_name,Locale,member_number,favourite\n"
        "ana@example.com,Ana,es,1,tea\n"
        "not-an-email,Bad,es,2,\n"
        "bea@example.com,Bea,en,3,coffee\n"
        "ana@example.com,Duplicate,es,4,\n",
        encoding="utf-8",
    )
    report = await import_csv(platform.db, tenant.server.id, csv_file)
    assert report.imported == 2
    assert [line for line, _ in report.rejected] == [3, 5]
    assert "Email" in report.rejected[0][1]
