"""POST /email and /email/batch: Postmark's shapes, errors and limits, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from misiva.runtime.wiring import Platform
from misiva.storage import messages as message_store

OK_MESSAGE = {
    "From": "Tienda <hola@shop.test>",
    "To": "ana@example.com",
    "Subject": "Hola",
    "TextBody": "Hola Ana",
}
POSTMARKER_NULLS = {
    "Cc": None,
    "Bcc": None,
    "Tag": None,
    "ReplyTo": None,
    "Headers": [],
    "Attachments": [],
    "TrackOpens": None,
    "Metadata": None,
    "TemplateId": None,
    "MessageStream": None,
    "TrackLinks": "None",
    "HtmlBody": "",
}


async def _queued(platform: Platform) -> int:
    async with platform.db.transaction() as tx:
        return sum((await message_store.count_by_status(tx)).values())


async def test_send_answers_postmark_shape_after_commit(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    response = await api.post("/email", json={**OK_MESSAGE, **POSTMARKER_NULLS})
    body = response.json()
    assert response.status_code == 200, body
    assert set(body) == {"To", "SubmittedAt", "MessageID", "ErrorCode", "Message"}
    assert body["To"] == "ana@example.com" and body["ErrorCode"] == 0 and body["Message"] == "OK"
    async with platform.db.transaction() as tx:
        stored = await message_store.get_message(tx, body["MessageID"])
    assert stored is not None and stored.subject == "Hola"


@pytest.mark.parametrize("path", ["/EMAIL", "/email/", "/Email/Batch/"])
async def test_paths_ignore_case_and_one_trailing_slash(api: httpx.AsyncClient, path: str) -> None:
    payload: Any = [OK_MESSAGE] if "batch" in path.lower() else OK_MESSAGE
    response = await api.post(path, json=payload)
    assert response.status_code == 200


async def test_a_parameter_that_spells_a_route_word_keeps_its_case(
    api: httpx.AsyncClient,
) -> None:
    # `Stats` is a fixed word of other routes (`/triggers/{key}/stats`), but here it stands
    # where the alias goes: it must reach the route as written, not lowercased.
    template = {"Name": "Stats", "Alias": "Stats", "Subject": "s", "TextBody": "t"}
    assert (await api.post("/templates", json=template)).status_code == 200
    found = await api.get("/templates/Stats")
    assert found.status_code == 200, found.text
    assert found.json()["Alias"] == "Stats"
    assert (await api.get("/TEMPLATES/Stats/")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "text"),
    [({}, "valid Server token"), ({"X-Postmark-Server-Token": "nope"}, "valid token")],
)
async def test_missing_or_wrong_token_is_401_with_error_code_10(
    api: httpx.AsyncClient, headers: dict[str, str], text: str
) -> None:
    api.headers.pop("X-Postmark-Server-Token")
    response = await api.post("/email", json=OK_MESSAGE, headers=headers)
    assert response.status_code == 401
    assert response.json()["ErrorCode"] == 10 and text in response.json()["Message"]


async def test_token_header_name_is_case_insensitive(api: httpx.AsyncClient) -> None:
    token = api.headers.pop("X-Postmark-Server-Token")
    response = await api.post("/email", json=OK_MESSAGE, headers={"x-postmark-server-token": token})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"To": "invalid@localhost"}, 300, "Invalid 'To' address: 'invalid@localhost'."),
        (
            {"Cc": "user@+"},
            300,
            "Error parsing 'Cc': Illegal email domain '+' in address 'user@+'.",
        ),
        ({"From": "invalid@localhost"}, 300, "Invalid 'From' address: 'invalid@localhost'."),
        ({"To": None}, 300, "Zero recipients specified"),
        ({"TextBody": ""}, 300, "Provide either email TextBody or HtmlBody or both."),
        ({"From": "hola@other.test"}, 400, "is not a Sender Signature"),
        ({"Subject": "Hi\r\nBcc: victim@example.com"}, 300, "Subject"),
        ({"Headers": [{"Name": "X-A", "Value": "1\nBcc: x@y.z"}]}, 300, "X-A"),
        ({"To": "a@example.com\r\nBcc: victim@example.com"}, 300, "'To'"),
        ({"To": ",".join(f"u{n}@example.com" for n in range(51))}, 300, "50"),
        ({"Metadata": {"a" * 21: "x"}}, 300, "Invalid metadata content"),
        ({"MessageStream": "nope"}, 1235, "'MessageStream' provided does not exist"),
        ({"To": 42}, 300, "'To'"),
        (
            {
                "Attachments": [
                    {"Name": "a.pdf", "Content": "%%%", "ContentType": "application/pdf"}
                ]
            },
            300,
            "base64",
        ),
    ],
)
async def test_bad_input_gets_postmark_error_and_queues_nothing(
    api: httpx.AsyncClient, platform: Platform, change: dict[str, Any], code: int, message: str
) -> None:
    response = await api.post("/email", json={**OK_MESSAGE, **change})
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"ErrorCode", "Message"}
    assert body["ErrorCode"] == code and message in body["Message"]
    assert await _queued(platform) == 0


async def test_invalid_json_is_error_402(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/email", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["ErrorCode"] == 402


async def test_oversized_message_is_413(api: httpx.AsyncClient, platform: Platform) -> None:
    big = {**OK_MESSAGE, "TextBody": "x" * (10 * 1024 * 1024 + 1)}
    response = await api.post("/email", json=big)
    assert response.status_code == 413
    assert await _queued(platform) == 0


async def test_batch_answers_one_entry_per_message_in_order(api: httpx.AsyncClient) -> None:
    batch = [
        OK_MESSAGE,
        {**OK_MESSAGE, "To": "invalid@localhost"},
        "not an object",
        {**OK_MESSAGE, "To": "bea@example.com"},
    ]
    response = await api.post("/email/batch", json=batch)
    assert response.status_code == 200
    entries = response.json()
    assert [e["ErrorCode"] for e in entries] == [0, 300, 300, 0]
    assert all(
        set(e) == {"To", "SubmittedAt", "MessageID", "ErrorCode", "Message"} for e in entries
    )
    assert entries[1]["To"] == "invalid@localhost" and entries[1]["MessageID"] == ""
    assert entries[3]["To"] == "bea@example.com"


async def test_batch_over_500_is_410_and_not_an_array_is_403(api: httpx.AsyncClient) -> None:
    too_many = await api.post("/email/batch", json=[OK_MESSAGE] * 501)
    assert too_many.status_code == 422 and too_many.json()["ErrorCode"] == 410
    not_array = await api.post("/email/batch", json=OK_MESSAGE)
    assert not_array.status_code == 422 and not_array.json()["ErrorCode"] == 403


async def test_test_token_validates_and_delivers_nothing(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    headers = {"X-Postmark-Server-Token": "POSTMARK_API_TEST"}
    ok = await api.post("/email", json={**OK_MESSAGE, "From": "a@any.test"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["Message"] == "Test job accepted"
    bad = await api.post("/email", json={**OK_MESSAGE, "To": "x@localhost"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["ErrorCode"] == 300
    assert await _queued(platform) == 0


async def test_idempotency_key_returns_the_first_response_and_sends_once(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    headers = {"Idempotency-Key": "order-42-confirmation"}
    first = await api.post("/email", json=OK_MESSAGE, headers=headers)
    again = await api.post("/email", json=OK_MESSAGE, headers=headers)
    other = await api.post("/email", json=OK_MESSAGE, headers={"Idempotency-Key": "order-43"})
    assert first.json() == again.json()
    assert other.json()["MessageID"] != first.json()["MessageID"]
    assert await _queued(platform) == 2


async def test_details_show_the_message_and_its_timeline(api: httpx.AsyncClient) -> None:
    sent = (
        await api.post(
            "/email",
            json={**OK_MESSAGE, "Tag": "welcome", "HtmlBody": "<b>Hola</b>", "Metadata": {"n": 7}},
        )
    ).json()
    details = (await api.get(f"/messages/outbound/{sent['MessageID']}/details")).json()
    assert details["MessageID"] == sent["MessageID"] and details["Status"] == "Queued"
    assert details["To"] == [{"Email": "ana@example.com", "Name": ""}]
    assert details["TextBody"] == "Hola Ana" and details["HtmlBody"] == "<b>Hola</b>"
    assert details["Metadata"] == {"n": "7"} and details["Tag"] == "welcome"
    assert [e["Type"] for e in details["MessageEvents"]] == ["Queued"]
    assert "Message-ID:" in details["Body"]
    missing = await api.get("/messages/outbound/00000000-0000-0000-0000-000000000000/details")
    assert missing.status_code == 422
    assert missing.json() == {"ErrorCode": 701, "Message": "This message was not found."}


async def test_openapi_docs_describe_the_send_body(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    assert "EmailIn" in schema["components"]["schemas"]
    assert (await api.get("/docs")).status_code == 200
