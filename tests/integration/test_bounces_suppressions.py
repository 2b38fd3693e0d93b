"""A 550 becomes a hard bounce that suppresses; Postmark's bounce and suppression APIs."""

from __future__ import annotations

import httpx

from misiva.config import Settings
from misiva.runtime.wiring import build_platform
from misiva.testing.smtp_sink import SmtpSink

SEND = {"From": "hola@shop.test", "Subject": "Hi", "TextBody": "Hi"}


async def _deliver_to(sink: SmtpSink, database_url: str) -> None:
    relay = build_platform(
        Settings(database_url=database_url, routes=f"*=smtp://127.0.0.1:{sink.port}")
    )
    try:
        await relay.new_worker().run_once()
    finally:
        await relay.close()


async def test_hard_bounce_suppresses_and_the_next_send_gets_406(
    api: httpx.AsyncClient, database_url: str
) -> None:
    with SmtpSink() as sink:
        sink.script_rcpt("gone@example.com", "550 5.1.1 <gone@example.com>: user unknown")
        first = (
            await api.post("/email", json={**SEND, "To": "gone@example.com, ana@example.com"})
        ).json()
        await _deliver_to(sink, database_url)
    bounces = (await api.get("/bounces", params={"count": 10, "offset": 0})).json()
    assert bounces["TotalCount"] == 1
    [bounce] = bounces["Bounces"]
    assert bounce["Type"] == "HardBounce" and bounce["TypeCode"] == 1
    assert bounce["Email"] == "gone@example.com" and bounce["MessageID"] == first["MessageID"]
    assert bounce["Inactive"] is True and bounce["CanActivate"] is True
    assert "550 5.1.1" in bounce["Details"]
    refused = await api.post("/email", json={**SEND, "To": "gone@example.com"})
    assert refused.status_code == 422 and refused.json()["ErrorCode"] == 406
    assert refused.json()["Message"] == (
        "You tried to send to a recipient that has been marked as inactive.\n"
        "Found inactive addresses: gone@example.com.\n"
        "Inactive recipients are ones that have generated a hard bounce or a spam complaint."
    )
    mixed = (
        await api.post("/email", json={**SEND, "To": "gone@example.com, bea@example.com"})
    ).json()
    assert mixed["ErrorCode"] == 0
    assert mixed["Message"].startswith(
        "Message OK, but will not deliver to these inactive addresses: gone@example.com."
    )
    details = (await api.get(f"/messages/outbound/{mixed['MessageID']}/details")).json()
    assert details["Recipients"] == ["bea@example.com"]
    timeline = (await api.get(f"/messages/outbound/{first['MessageID']}/details")).json()
    assert "SubscriptionChanged" in [e["Type"] for e in timeline["MessageEvents"]]
    dump = (await api.get("/message-streams/outbound/suppressions/dump")).json()
    assert dump["Suppressions"][0]["SuppressionReason"] == "HardBounce"
    assert dump["Suppressions"][0]["Origin"] == "Recipient"
    stats = (await api.get("/deliveryStats")).json()
    assert stats["InactiveMails"] == 1 and stats["Bounces"][0] == {"Name": "All", "Count": 1}
    activated = (await api.put(f"/bounces/{bounce['ID']}/activate")).json()
    assert activated["Bounce"]["Inactive"] is False
    assert (await api.post("/email", json={**SEND, "To": "gone@example.com"})).status_code == 200


async def test_manual_suppressions_add_and_delete(api: httpx.AsyncClient) -> None:
    added = (
        await api.post(
            "/message-streams/outbound/suppressions",
            json={"Suppressions": [{"EmailAddress": "x@example.com"}, {"EmailAddress": "bad"}]},
        )
    ).json()
    assert [s["Status"] for s in added["Suppressions"]] == ["Suppressed", "Failed"]
    assert (await api.post("/email", json={**SEND, "To": "x@example.com"})).json()[
        "ErrorCode"
    ] == 406
    dump = (
        await api.get(
            "/message-streams/outbound/suppressions/dump",
            params={"SuppressionReason": "ManualSuppression"},
        )
    ).json()
    assert [s["Origin"] for s in dump["Suppressions"]] == ["Customer"]
    deleted = (
        await api.post(
            "/message-streams/outbound/suppressions/delete",
            json={"Suppressions": [{"EmailAddress": "x@example.com"}]},
        )
    ).json()
    assert deleted["Suppressions"][0]["Status"] == "Deleted"
    assert (await api.post("/email", json={**SEND, "To": "x@example.com"})).status_code == 200


async def test_a_stream_the_server_lacks_has_no_suppression_list_and_no_webhooks(
    api: httpx.AsyncClient,
) -> None:
    body = {"Suppressions": [{"EmailAddress": "x@example.com"}]}
    for path in ("/message-streams/nope/suppressions", "/message-streams/nope/suppressions/delete"):
        refused = await api.post(path, json=body)
        assert (refused.status_code, refused.json()["ErrorCode"]) == (422, 1226)
    hook = await api.post(
        "/webhooks", json={"Url": "http://93.184.216.34/h", "MessageStream": "nope"}
    )
    assert (hook.status_code, hook.json()["ErrorCode"]) == (422, 1235)
    assert (await api.get("/webhooks")).json()["Webhooks"] == []


async def test_bounce_queries_need_paging_and_unknown_ids_are_1001(api: httpx.AsyncClient) -> None:
    assert (await api.get("/bounces")).json()["ErrorCode"] == 1000
    assert (await api.get("/bounces/12345")).json()["ErrorCode"] == 1001
