"""Postmark's Message Streams API: defaults, validation codes, limits, archiving and sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

SEND = {"From": "hola@shop.test", "To": "ana@example.com", "Subject": "Hi", "TextBody": "Hi"}
NEWS = {"ID": "news", "Name": "Newsletter", "MessageStreamType": "Broadcasts"}
RECEIPTS = {"ID": "receipts", "Name": "Receipts", "MessageStreamType": "Transactional"}


async def _create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/message-streams", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def _error(response: httpx.Response) -> int:
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"ErrorCode", "Message"}
    code: int = response.json()["ErrorCode"]
    return code


async def _ids(api: httpx.AsyncClient, **params: str) -> list[str]:
    listed = (await api.get("/message-streams", params=params)).json()
    assert listed["TotalCount"] == len(listed["MessageStreams"])
    return [s["ID"] for s in listed["MessageStreams"]]


async def test_a_new_server_lists_its_two_default_streams(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/message-streams")).json()
    assert listed["TotalCount"] == 2
    outbound, broadcast = listed["MessageStreams"]
    assert outbound["ID"] == "outbound" and outbound["MessageStreamType"] == "Transactional"
    assert outbound["SubscriptionManagementConfiguration"] == {"UnsubscribeHandlingType": "None"}
    assert outbound["Subscriptions"]["RequireConfirmedOptIn"] is False
    assert outbound["ArchivedAt"] is None and outbound["ExpectedPurgeDate"] is None
    assert broadcast["ID"] == "broadcast" and broadcast["MessageStreamType"] == "Broadcasts"
    handling = broadcast["SubscriptionManagementConfiguration"]["UnsubscribeHandlingType"]
    assert handling == "Postmark"
    assert broadcast["Subscriptions"]["RequireConfirmedOptIn"] is True
    assert broadcast["ServerID"] == outbound["ServerID"]


async def test_query_names_and_types_filter_case_insensitively(api: httpx.AsyncClient) -> None:
    assert await _ids(api, messageStreamType="Broadcasts") == ["broadcast"]
    assert await _ids(api, MessageStreamType="transactional") == ["outbound"]
    assert await _ids(api, MessageStreamType="Inbound") == []
    assert await _ids(api, MessageStreamType="All", includeArchivedStreams="true") == [
        "outbound",
        "broadcast",
    ]
    assert _error(await api.get("/message-streams", params={"MessageStreamType": "Bulk"})) == 1221
    bad_flag = await api.get("/message-streams", params={"IncludeArchivedStreams": "maybe"})
    assert _error(bad_flag) == 300
    assert (await api.get("/Message-Streams/outbound")).json()["ID"] == "outbound"


async def test_create_get_and_patch_round_trip_with_subscriptions(api: httpx.AsyncClient) -> None:
    created = await _create(
        api,
        {
            **NEWS,
            "Description": "Monthly news; 1 < 2",
            "Subscriptions": {
                "ConfirmationExpiresHours": 72,
                "WelcomeTemplate": "welcome",
                "From": "News <news@shop.test>",
            },
        },
    )
    assert created["ID"] == "news" and created["Description"] == "Monthly news; 1 < 2"
    assert created["UpdatedAt"] is None and created["CreatedAt"]
    handling = created["SubscriptionManagementConfiguration"]["UnsubscribeHandlingType"]
    assert handling == "Postmark"
    assert created["Subscriptions"] == {
        "RequireConfirmedOptIn": True,
        "ConfirmationTemplate": "subscription-confirm",
        "ConfirmationExpiresHours": 72,
        "WelcomeTemplate": "welcome",
        "UnsubscribeConfirmationTemplate": "unsubscribe-confirmation",
        "From": "News <news@shop.test>",
        "NoticeStream": "outbound",
    }
    assert (await api.get("/message-streams/news")).json() == created
    await _create(api, RECEIPTS)
    patched = await api.patch(
        "/message-streams/news",
        json={
            "Name": "News",
            "Description": None,
            "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "Custom"},
            "Subscriptions": {
                "RequireConfirmedOptIn": False,
                "WelcomeTemplate": None,
                "From": "",
                "NoticeStream": "receipts",
            },
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["Name"] == "News" and body["Description"] == "Monthly news; 1 < 2"
    assert body["UpdatedAt"] is not None
    assert body["SubscriptionManagementConfiguration"]["UnsubscribeHandlingType"] == "Custom"
    assert body["Subscriptions"]["RequireConfirmedOptIn"] is False
    assert body["Subscriptions"]["WelcomeTemplate"] is None
    assert body["Subscriptions"]["From"] == "News <news@shop.test>"
    assert body["Subscriptions"]["NoticeStream"] == "receipts"
    assert (await api.get("/message-streams/news")).json() == body


async def test_a_transactional_stream_starts_without_unsubscribe_handling(
    api: httpx.AsyncClient,
) -> None:
    created = await _create(api, RECEIPTS)
    assert created["SubscriptionManagementConfiguration"] == {"UnsubscribeHandlingType": "None"}
    assert created["Subscriptions"]["RequireConfirmedOptIn"] is False
    assert created["Subscriptions"]["ConfirmationTemplate"] is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ID": None}, 1222),
        ({"ID": ""}, 1222),
        ({"ID": "1news"}, 1227),
        ({"ID": "News"}, 1227),
        ({"ID": "news letter"}, 1227),
        ({"ID": "n" * 31}, 1227),
        ({"ID": "pm-news"}, 1233),
        ({"ID": "all"}, 1237),
        ({"ID": "outbound"}, 1230),
        ({"ID": "broadcast"}, 1230),
        ({"Name": None}, 1223),
        ({"Name": "  "}, 1223),
        ({"Name": "n" * 101}, 1224),
        ({"Description": "d" * 1001}, 1231),
        ({"Description": "Hello <b>there</b>"}, 1234),
        ({"Description": "ends here </p>"}, 1234),
        ({"MessageStreamType": None}, 1221),
        ({"MessageStreamType": "Inbound"}, 1221),
        ({"MessageStreamType": "Bulk"}, 1221),
        ({"SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "None"}}, 300),
        ({"SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "Always"}}, 300),
        ({"SubscriptionManagementConfiguration": "Postmark"}, 300),
        ({"Name": 5}, 300),
        ({"ID": 5}, 300),
        ({"Subscriptions": []}, 300),
        ({"Subscriptions": {"RequireConfirmedOptIn": "yes"}}, 300),
        ({"Subscriptions": {"ConfirmationExpiresHours": "48"}}, 300),
        ({"Subscriptions": {"ConfirmationExpiresHours": True}}, 300),
        ({"Subscriptions": {"ConfirmationExpiresHours": 0}}, 300),
        ({"Subscriptions": {"ConfirmationExpiresHours": 721}}, 300),
        ({"Subscriptions": {"ConfirmationTemplate": 7}}, 300),
        ({"Subscriptions": {"WelcomeTemplate": "w" * 101}}, 300),
        ({"Subscriptions": {"From": "not an address"}}, 300),
        ({"Subscriptions": {"NoticeStream": "broadcast"}}, 300),
        ({"Subscriptions": {"NoticeStream": "nowhere"}}, 300),
    ],
)
async def test_create_refuses_with_postmarks_error_code(
    api: httpx.AsyncClient, change: dict[str, Any], code: int
) -> None:
    response = await api.post("/message-streams", json={**NEWS, **change})
    assert _error(response) == code
    assert await _ids(api, IncludeArchivedStreams="true") == ["outbound", "broadcast"]


async def test_a_broadcasts_stream_without_unsubscribe_handling_says_why(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/message-streams",
        json={**NEWS, "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "None"}},
    )
    assert response.json()["Message"] == (
        "A Broadcasts stream needs UnsubscribeHandlingType Postmark or Custom."
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Name": "n" * 101}, 1224),
        ({"Description": "<script>alert(1)</script>"}, 1234),
        ({"MessageStreamType": "Transactional"}, 1221),
        ({"ID": "other"}, 300),
        ({"SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "None"}}, 300),
        ({"Subscriptions": {"NoticeStream": "broadcast"}}, 300),
    ],
)
async def test_patch_refuses_with_postmarks_error_code(
    api: httpx.AsyncClient, change: dict[str, Any], code: int
) -> None:
    before = (await api.get("/message-streams/broadcast")).json()
    assert _error(await api.patch("/message-streams/broadcast", json=change)) == code
    assert (await api.get("/message-streams/broadcast")).json() == before


async def test_patch_may_repeat_the_id_and_type(api: httpx.AsyncClient) -> None:
    body = {"ID": "broadcast", "MessageStreamType": "Broadcasts", "Name": "Promotions"}
    response = await api.patch("/message-streams/broadcast", json=body)
    assert response.status_code == 200 and response.json()["Name"] == "Promotions"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/message-streams/nope"),
        ("PATCH", "/message-streams/nope"),
        ("POST", "/message-streams/nope/archive"),
        ("POST", "/message-streams/nope/unarchive"),
    ],
)
async def test_an_unknown_stream_is_1226(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={"Name": "x"})
    assert _error(response) == 1226
    assert response.json()["Message"] == "The message stream for the provided 'ID' was not found."


async def test_ten_streams_at_most_counting_archived_ones(api: httpx.AsyncClient) -> None:
    for n in range(8):
        await _create(api, {**RECEIPTS, "ID": f"stream-{n}"})
    archived = await api.post("/message-streams/stream-0/archive")
    assert archived.status_code == 200
    refused = await api.post("/message-streams", json={**RECEIPTS, "ID": "eleventh"})
    assert _error(refused) == 1225
    assert "Maximum number of message streams" in refused.json()["Message"]
    assert len(await _ids(api, IncludeArchivedStreams="true")) == 10


async def test_an_archived_stream_is_hidden_and_refuses_sends_at_once(
    api: httpx.AsyncClient,
) -> None:
    await _create(api, RECEIPTS)
    sent = await api.post("/email", json={**SEND, "MessageStream": "receipts"})
    assert sent.json()["ErrorCode"] == 0
    response = await api.post("/message-streams/receipts/archive")
    assert response.status_code == 200
    archived = response.json()
    assert set(archived) == {"ID", "ServerID", "ExpectedPurgeDate"}
    assert archived["ID"] == "receipts"
    assert await _ids(api) == ["outbound", "broadcast"]
    assert await _ids(api, IncludeArchivedStreams="true") == ["outbound", "broadcast", "receipts"]
    stream = (await api.get("/message-streams/receipts")).json()
    archived_at = datetime.fromisoformat(stream["ArchivedAt"])
    purge = datetime.fromisoformat(archived["ExpectedPurgeDate"])
    assert purge - archived_at == timedelta(days=45)
    assert stream["ExpectedPurgeDate"] == archived["ExpectedPurgeDate"]
    refused = await api.post("/email", json={**SEND, "MessageStream": "receipts"})
    assert _error(refused) == 1235


@pytest.mark.parametrize("stream_id", ["outbound", "broadcast"])
async def test_the_default_streams_cannot_be_archived(
    api: httpx.AsyncClient, stream_id: str
) -> None:
    assert _error(await api.post(f"/message-streams/{stream_id}/archive")) == 1229
    assert (await api.get(f"/message-streams/{stream_id}")).json()["ArchivedAt"] is None


async def test_unarchive_restores_sends_and_refuses_an_active_stream(
    api: httpx.AsyncClient,
) -> None:
    await _create(api, RECEIPTS)
    assert _error(await api.post("/message-streams/receipts/unarchive")) == 1232
    await api.post("/message-streams/receipts/archive")
    response = await api.post("/message-streams/receipts/unarchive")
    assert response.status_code == 200
    assert response.json()["ArchivedAt"] is None and response.json()["ExpectedPurgeDate"] is None
    sent = await api.post("/email", json={**SEND, "MessageStream": "receipts"})
    assert sent.status_code == 200 and sent.json()["ErrorCode"] == 0


async def test_a_new_stream_takes_sends_at_once(api: httpx.AsyncClient) -> None:
    # The first call caches the server's context; the create must refresh it.
    refused = await api.post("/email", json={**SEND, "MessageStream": "receipts"})
    assert _error(refused) == 1235
    await _create(api, RECEIPTS)
    sent = await api.post("/email", json={**SEND, "MessageStream": "receipts"})
    assert sent.status_code == 200 and sent.json()["ErrorCode"] == 0


async def test_a_streams_tracking_defaults_apply_to_sends_that_do_not_say(
    api: httpx.AsyncClient,
) -> None:
    created = await _create(api, {**RECEIPTS, "TrackOpens": True, "TrackLinks": "htmlonly"})
    assert created["TrackOpens"] is True and created["TrackLinks"] == "HtmlOnly"
    html = '<html><body><a href="https://shop.test/order/1">Order</a></body></html>'
    sent = await api.post("/email", json={**SEND, "HtmlBody": html, "MessageStream": "receipts"})
    dump = await api.get(f"/messages/outbound/{sent.json()['MessageID']}/dump")
    body = dump.json()["Body"]
    assert "/t/o/" in body and "/t/c/" in body
    patched = await api.patch("/message-streams/receipts", json={"TrackLinks": "None"})
    assert patched.json()["TrackLinks"] == "None" and patched.json()["TrackOpens"] is True
    bad = await api.patch("/message-streams/receipts", json={"TrackOpens": "yes"})
    assert _error(bad) == 300
