"""A stream's share of content blocks (Misiva's `MaxBlockShare`): set through the Message Streams
API, refused when out of bounds or on a Broadcasts stream, and the bound the content lint
applies when a template is checked for that stream."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builders import Tenant
from misiva.authoring import templates as authoring
from misiva.authoring.templates import TemplateFields
from misiva.domain.content import StreamUse
from misiva.render.blocks import BLOCK_END, BLOCK_START
from misiva.runtime.wiring import Platform

RECEIPTS = {"ID": "receipts", "Name": "Receipts", "MessageStreamType": "Transactional"}
RECEIPT = "<p>Your order A-1 is confirmed. It ships on Monday to Calle Mayor 1, Madrid.</p>"
OFFER = "<p>" + "Buy our new coffee mugs, two for one this week only! " * 3 + "</p>"
# What a send renders when a block fills the slot: the block's HTML between the markers that
# the lint measures (about 65% of this message's text).
FILLED = RECEIPT + BLOCK_START + OFFER + BLOCK_END


async def _stream(api: httpx.AsyncClient, method: str, path: str, body: Any) -> dict[str, Any]:
    response = await api.request(method, path, json=body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_max_block_share_is_set_read_changed_and_reset(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/message-streams")).json()["MessageStreams"]
    assert [s["MaxBlockShare"] for s in listed] == [None, None]
    created = await _stream(api, "POST", "/message-streams", {**RECEIPTS, "MaxBlockShare": 20})
    assert created["MaxBlockShare"] == 20
    assert (await api.get("/message-streams/receipts")).json()["MaxBlockShare"] == 20
    renamed = await _stream(api, "PATCH", "/message-streams/receipts", {"Name": "Orders"})
    assert renamed["MaxBlockShare"] == 20
    none_at_all = await _stream(api, "PATCH", "/message-streams/receipts", {"MaxBlockShare": 0})
    assert none_at_all["MaxBlockShare"] == 0
    reset = await _stream(api, "PATCH", "/message-streams/receipts", {"MaxBlockShare": None})
    assert reset["MaxBlockShare"] is None
    # A client that sends back the Broadcasts stream it read (null) is not refused.
    broadcast = (await api.get("/message-streams/broadcast")).json()
    patched = await _stream(api, "PATCH", "/message-streams/broadcast", {"MaxBlockShare": None})
    assert {**patched, "UpdatedAt": None} == {**broadcast, "UpdatedAt": None}


@pytest.mark.parametrize("share", [-1, 101, 30.5, "30", True, [30]])
async def test_a_share_out_of_bounds_is_refused_with_a_clear_message(
    api: httpx.AsyncClient, share: Any
) -> None:
    refused = await api.post("/message-streams", json={**RECEIPTS, "MaxBlockShare": share})
    assert refused.status_code == 422
    assert refused.json()["ErrorCode"] == 300
    assert "'MaxBlockShare'" in refused.json()["Message"]
    assert "from 0 to 100" in refused.json()["Message"]
    patched = await api.patch("/message-streams/outbound", json={"MaxBlockShare": share})
    assert patched.status_code == 422
    assert (await api.get("/message-streams/outbound")).json()["MaxBlockShare"] is None


async def test_a_broadcasts_stream_has_no_limit_to_set(api: httpx.AsyncClient) -> None:
    refused = await api.patch("/message-streams/broadcast", json={"MaxBlockShare": 50})
    assert refused.status_code == 422 and refused.json()["ErrorCode"] == 300
    assert refused.json()["Message"] == (
        "A Broadcasts stream has no limit on content blocks: 'MaxBlockShare' applies to "
        "Transactional streams."
    )
    news = {"ID": "news", "Name": "News", "MessageStreamType": "Broadcasts", "MaxBlockShare": 50}
    assert (await api.post("/message-streams", json=news)).status_code == 422


def _share_findings(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["Severity"], f["Message"]) for f in body["Lint"] if f["Code"] == "BlockShare"]


async def test_validate_lints_with_the_streams_share(api: httpx.AsyncClient) -> None:
    await _stream(api, "POST", "/message-streams", RECEIPTS)
    body = {"Subject": "Order A-1", "HtmlBody": FILLED, "MessageStream": "receipts"}

    async def findings() -> list[tuple[str, str]]:
        response = await api.post("/templates/validate", json=body)
        assert response.status_code == 200, response.text
        return _share_findings(response.json())

    [(severity, message)] = await findings()
    assert severity == "error" and "the stream allows 30%" in message
    await _stream(api, "PATCH", "/message-streams/receipts", {"MaxBlockShare": 50})
    [(_severity, message)] = await findings()
    assert "the stream allows 50%" in message
    await _stream(api, "PATCH", "/message-streams/receipts", {"MaxBlockShare": 80})
    assert await findings() == []
    body["MessageStream"] = "broadcast"
    assert await findings() == []


async def test_a_version_check_lints_with_the_streams_share(
    platform: Platform, tenant: Tenant
) -> None:
    fields = TemplateFields(name="Order", alias="order", subject="Order", html_body=FILLED)
    await authoring.create_template(platform.db, tenant.server.id, fields)
    checker = platform.content_checker()

    async def codes(share: int | None) -> list[str]:
        _, report = await checker.check_version(
            platform.db,
            tenant.server,
            "order",
            use=StreamUse.TRANSACTIONAL,
            strict=False,
            max_block_share=share,
        )
        return [f.code.value for v in report.variants for f in v.findings]

    assert "BlockShare" in await codes(None)
    assert "BlockShare" in await codes(40)
    assert "BlockShare" not in await codes(80)
