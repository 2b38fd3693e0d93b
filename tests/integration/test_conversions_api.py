"""Conversions over the API, in-process on both databases: credited to the named message or to
the recipient's last touch, counted once per order, refused clearly when they cannot be
credited, and summed into the results per template and per content block variant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from misiva.runtime.wiring import Platform

ORDER = {
    "Name": "Order confirmation",
    "Alias": "order",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": (
        '<p>Order {{ order.number }} <a href="https://shop.test/orders/1">track it</a></p>'
        "{{ block('cross_sell') }}"
    ),
}
BLOCK = {
    "Key": "mugs",
    "Slot": "cross_sell",
    "Contents": {"default": {"HtmlBody": '<p>Mugs: <a href="https://shop.test/mug">see</a></p>'}},
}


async def _send(api: httpx.AsyncClient, to: str) -> str:
    sent = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": to,
            "TemplateAlias": "order",
            "TemplateModel": {"order": {"number": "A-1"}},
            "TrackLinks": "HtmlOnly",
            "TrackOpens": True,
        },
    )
    assert sent.status_code == 200, sent.text
    message_id: str = sent.json()["MessageID"]
    return message_id


async def _click_block(api: httpx.AsyncClient, message_id: str) -> None:
    html = (await api.get(f"/messages/outbound/{message_id}/details")).json()["HtmlBody"]
    tokens = re.findall(r'href="http[^"]*/t/c/([^"]+)"', html)
    # The block's link is the second: the template's own comes first.
    clicked = await api.get(f"/t/c/{tokens[1]}", follow_redirects=False)
    assert clicked.status_code in (302, 303, 307), clicked.text


async def _setup(api: httpx.AsyncClient) -> int:
    assert (await api.post("/templates", json=ORDER)).status_code == 200
    created = await api.post("/content-blocks", json=BLOCK)
    assert created.status_code == 200, created.text
    block_id: int = created.json()["ID"]
    return block_id


async def test_a_conversion_by_message_id_counts_once_per_order(api: httpx.AsyncClient) -> None:
    block_id = await _setup(api)
    message_id = await _send(api, "ana@example.com")
    report = {"MessageID": message_id, "Value": "49.90", "Currency": "eur", "OrderID": "A-1"}
    first = await api.post("/conversions", json=report)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["MessageID"] == message_id and body["Attribution"] == "message"
    assert body["Value"] == 49.9 and body["Currency"] == "EUR" and body["Duplicate"] is False
    assert body["Recipient"] == "ana@example.com"
    assert body["Blocks"] == [{"Slot": "cross_sell", "BlockID": block_id, "Variant": "A"}]
    again = (await api.post("/conversions", json={**report, "Value": 99})).json()
    assert again["Duplicate"] is True and again["ConversionID"] == body["ConversionID"]
    assert again["Value"] == 49.9
    listed = (await api.get("/conversions", params={"messageid": message_id})).json()
    assert listed["TotalCount"] == 1
    # A reporter's clock a minute ahead is not a conversion to come: taken as now.
    ahead = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    skewed = {**report, "OrderID": "A-2", "OccurredAt": ahead}
    assert (await api.post("/conversions", json=skewed)).status_code == 200


async def test_a_conversion_by_recipient_goes_to_their_last_touch(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    await _setup(api)
    report = {"Recipient": "ana@example.com", "Value": 10, "Currency": "EUR"}
    clicked = await _send(api, "Ana@Example.com")
    # Nothing reached her yet (capture delivers only when a worker runs): nothing to credit.
    refused = await api.post("/conversions", json=report)
    assert refused.status_code == 422 and refused.json()["ErrorCode"] == 1160
    assert "ana@example.com" in refused.json()["Message"]
    await platform.new_worker().run_once()
    newer = await _send(api, "Ana@Example.com")
    await platform.new_worker().run_once()
    # Delivered both, clicked neither: the newest delivery is credited (the address is
    # matched whatever its case).
    found = (await api.post("/conversions", json=report)).json()
    assert found["MessageID"] == newer and found["Attribution"] == "delivered"
    # A click outranks a later delivery.
    await _click_block(api, clicked)
    found = (await api.post("/conversions", json={**report, "WindowHours": 1})).json()
    assert found["MessageID"] == clicked and found["Attribution"] == "clicked"
    # A conversion a day later with a one-hour window finds nothing to credit.
    later = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    outside = await api.post("/conversions", json={**report, "OccurredAt": later})
    assert outside.status_code == 422 and outside.json()["ErrorCode"] == 1160


async def test_bad_conversions_are_refused_with_a_reason(api: httpx.AsyncClient) -> None:
    await _setup(api)
    message_id = await _send(api, "ana@example.com")
    cases = [
        ({"Value": 1, "Currency": "EUR"}, 300, "MessageID"),
        ({"MessageID": message_id, "Currency": "EUR"}, 300, "Value"),
        ({"MessageID": message_id, "Value": -1, "Currency": "EUR"}, 300, "Value"),
        ({"MessageID": message_id, "Value": "ten", "Currency": "EUR"}, 300, "Value"),
        ({"MessageID": message_id, "Value": 1, "Currency": "EURO"}, 300, "Currency"),
        ({"MessageID": message_id, "Value": 1, "Currency": "EUR", "OrderID": ""}, 300, "OrderID"),
        ({"Recipient": "ana", "Value": 1, "Currency": "EUR"}, 300, "Recipient"),
        ({"Recipient": "a@b.test", "Value": 1, "Currency": "EUR", "WindowHours": 0}, 300, "Window"),
        (
            {
                "MessageID": message_id,
                "Value": 1,
                "Currency": "EUR",
                "OccurredAt": "2999-01-01T00:00Z",
            },
            300,
            "future",
        ),
        (
            {"MessageID": "00000000-0000-0000-0000-000000000000", "Value": 1, "Currency": "EUR"},
            701,
            "not found",
        ),
    ]
    for body, code, words in cases:
        response = await api.post("/conversions", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["ErrorCode"] == code, (body, response.text)
        assert words in response.json()["Message"], (body, response.text)
    assert (await api.get("/conversions")).json()["TotalCount"] == 0
    assert (await api.get("/conversions", params={"count": 0})).status_code == 422


async def test_results_per_template_and_block_include_conversions(
    api: httpx.AsyncClient,
) -> None:
    block_id = await _setup(api)
    first = await _send(api, "ana@example.com")
    await _send(api, "jean@example.com")
    await _click_block(api, first)
    for value, order in (("49.90", "A-1"), ("10.10", "A-2")):
        report = {"MessageID": first, "Value": value, "Currency": "EUR", "OrderID": order}
        assert (await api.post("/conversions", json=report)).status_code == 200
    results = (await api.get("/results/templates", params={"days": 7})).json()
    [order] = [t for t in results["Templates"] if t["Name"] == "Order confirmation"]
    assert order["Sends"] == 2 and order["Clicks"] == 1
    assert order["Conversions"] == 2 and order["Revenue"] == {"EUR": 60.0}
    block = (await api.get(f"/content-blocks/{block_id}/results")).json()
    [variant] = block["Variants"]
    assert variant["Sends"] == 2 and variant["UniqueClicks"] == 1
    assert variant["Conversions"] == 2 and variant["Revenue"] == {"EUR": 60.0}
    assert block["Comparison"] is None  # one variant: nothing to compare
    assert (await api.get("/results/templates", params={"days": 400})).status_code == 422
