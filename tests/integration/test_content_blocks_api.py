"""Content blocks end to end in-process: managed over the API, chosen per contact profile at
send time, recorded with each message, and a click on a block's link attributed to it."""

from __future__ import annotations

import re
from typing import Any

import httpx

CROSS_SELL_ES = {
    "Key": "mug-es",
    "Slot": "cross_sell",
    "Rule": "contact.country == 'ES' and order.total > 50",
    "Priority": 10,
    "Variants": [
        {
            "Name": "A",
            "Split": 50,
            "Contents": {
                "es": {
                    "HtmlBody": "<p>Taza para {{ contact.first_name }}: "
                    '<a href="https://shop.test/taza">ver</a></p>'
                }
            },
        },
        {
            "Name": "B",
            "Split": 50,
            "Contents": {
                "es": {"HtmlBody": '<p>Oferta taza: <a href="https://shop.test/taza-b">ver</a></p>'}
            },
        },
    ],
}
FALLBACK = {
    "Key": "newsletter",
    "Slot": "cross_sell",
    "Priority": 1,
    "Contents": {"default": {"HtmlBody": "<p>Join our newsletter</p>"}},
}
ORDER = {
    "Name": "Order confirmation",
    "Alias": "order",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": (
        '<p>Order {{ order.number }} <a href="https://shop.test/orders/1">track it</a></p>'
        "{{ block('cross_sell') }}"
    ),
}


async def _send(api: httpx.AsyncClient, to: str, total: float) -> str:
    sent = await api.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": to,
            "TemplateAlias": "order",
            "TemplateModel": {"order": {"number": "A-1", "total": total}},
            "TrackLinks": "HtmlOnly",
        },
    )
    assert sent.status_code == 200, sent.text
    message_id: str = sent.json()["MessageID"]
    return message_id


async def _html(api: httpx.AsyncClient, message_id: str) -> str:
    details = await api.get(f"/messages/outbound/{message_id}/details")
    html: str = details.json()["HtmlBody"]
    return html


async def _setup(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.post("/templates", json=ORDER)
    assert response.status_code == 200, response.text
    created = await api.post("/content-blocks", json=CROSS_SELL_ES)
    assert created.status_code == 200, created.text
    assert (await api.post("/content-blocks", json=FALLBACK)).status_code == 200
    for email, country, locale in (
        ("ana@example.com", "ES", "es"),
        ("jean@example.com", "FR", "fr"),
    ):
        contact = {"Email": email, "FirstName": email[:3].title(), "Country": country}
        await api.post("/contacts", json={**contact, "Locale": locale})
    block: dict[str, Any] = created.json()
    return block


async def test_each_contact_gets_the_block_that_fits_and_clicks_are_attributed(
    api: httpx.AsyncClient,
) -> None:
    block = await _setup(api)
    spain = await _send(api, "ana@example.com", 80)
    france = await _send(api, "jean@example.com", 80)
    cheap = await _send(api, "ana@example.com", 20)
    spain_html = await _html(api, spain)
    assert "Taza para Ana" in spain_html or "Oferta taza" in spain_html
    assert "Join our newsletter" in await _html(api, france)
    assert "Join our newsletter" in await _html(api, cheap)
    # The same recipient gets the same variant again on a re-send.
    again = await _send(api, "ana@example.com", 80)
    assert ("Taza para Ana" in spain_html) == ("Taza para Ana" in await _html(api, again))

    results = (await api.get(f"/content-blocks/{block['ID']}/results")).json()
    sends = {v["Name"]: v["Sends"] for v in results["Variants"]}
    assert sum(sends.values()) == 2 and sorted(sends) == ["A", "B"]
    # A click on the template's own link is not the block's; one on the block's link is.
    tracked = re.findall(r'href="http[^"]*/t/c/([^"]+)"', spain_html)
    assert len(tracked) == 2
    for token in tracked:
        clicked = await api.get(f"/t/c/{token}", follow_redirects=False)
        assert clicked.status_code in (302, 303, 307), clicked.text
    results = (await api.get(f"/content-blocks/{block['ID']}/results")).json()
    clicks = {v["Name"]: v["UniqueClicks"] for v in results["Variants"]}
    assert sum(clicks.values()) == 1
    [winner] = [name for name, count in clicks.items() if count]
    assert winner == ("A" if "Taza para Ana" in spain_html else "B")
    # The click event itself names the block and variant; the template link's does not.
    details = (await api.get(f"/messages/outbound/{spain}/details")).json()
    clicked_events = [e["Details"] for e in details["MessageEvents"] if e["Type"] == "LinkClicked"]
    assert sorted(str(e.get("ContentBlockID")) for e in clicked_events) == sorted(
        [str(block["ID"]), "None"]
    )
    assert {e.get("ContentBlockVariant") for e in clicked_events} == {winner, None}


async def test_blocks_are_managed_and_their_rule_tested_over_the_api(
    api: httpx.AsyncClient,
) -> None:
    block = await _setup(api)
    listed = (await api.get("/content-blocks", params={"slot": "cross_sell"})).json()
    assert [b["Key"] for b in listed["ContentBlocks"]] == ["mug-es", "newsletter"]
    tested = await api.post(
        f"/content-blocks/{block['ID']}/test",
        json={"Email": "ana@example.com", "TemplateModel": {"order": {"total": 99}}},
    )
    assert tested.json()["Matches"] is True and tested.json()["ChosenBlockID"] == block["ID"]
    tested = await api.post(
        f"/content-blocks/{block['ID']}/test",
        json={"Email": "jean@example.com", "TemplateModel": {"order": {"total": 99}}},
    )
    assert tested.json()["Matches"] is False and tested.json()["ChosenBlockID"] != block["ID"]
    refused = await api.patch(f"/content-blocks/{block['ID']}", json={"Rule": "order.total >"})
    assert refused.status_code == 422 and "does not compile" in refused.json()["Message"]
    patched = await api.patch(f"/content-blocks/{block['ID']}", json={"Priority": 0})
    assert patched.json()["Priority"] == 0 and patched.json()["Rule"] == CROSS_SELL_ES["Rule"]
    assert (await api.delete(f"/content-blocks/{block['ID']}")).status_code == 200
    gone = await api.get(f"/content-blocks/{block['ID']}")
    assert gone.status_code == 422 and "not found" in gone.json()["Message"]
