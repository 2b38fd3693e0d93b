"""Searching messages, opens and clicks, and outbound statistics, on both databases."""

from __future__ import annotations

import email
import email.policy
import re

import httpx

from misiva.config import Settings
from misiva.runtime.wiring import build_platform
from misiva.storage import capture as capture_store

GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


async def test_search_opens_clicks_and_stats(api: httpx.AsyncClient, database_url: str) -> None:
    sent = []
    for n, (to, tag) in enumerate([("ana@example.com", "welcome"), ("bea@example.com", "order")]):
        sent.append(
            (
                await api.post(
                    "/email",
                    json={
                        "From": "Tienda <hola@shop.test>",
                        "To": to,
                        "Subject": f"Asunto {n}",
                        "Tag": tag,
                        "HtmlBody": '<p><a href="https://shop.test/p">Ver</a></p>',
                        "TrackOpens": True,
                        "TrackLinks": "HtmlOnly",
                        "Metadata": {"order": str(n)},
                    },
                )
            ).json()["MessageID"]
        )
    found = (
        await api.get(
            "/messages/outbound", params={"count": 10, "offset": 0, "recipient": "ana@example.com"}
        )
    ).json()
    assert [m["MessageID"] for m in found["Messages"]] == [sent[0]]
    by_meta = (
        await api.get(
            "/messages/outbound", params={"count": 10, "offset": 0, "metadata_order": "1"}
        )
    ).json()
    assert [m["MessageID"] for m in by_meta["Messages"]] == [sent[1]]
    queued = (
        await api.get(
            "/messages/outbound",
            params={"count": 10, "offset": 0, "status": "queued", "tag": "order"},
        )
    ).json()
    assert queued["TotalCount"] == 1
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    try:
        await platform.new_worker().run_once()
        async with platform.db.transaction() as tx:
            [captured] = await capture_store.get_captured_for_message(tx, sent[0])
    finally:
        await platform.close()
    parsed = email.message_from_bytes(captured.mime, policy=email.policy.default)
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    pixel = re.search(r'src="[^"]*(/t/o/[^"]+)"', html)
    link = re.search(r'href="[^"]*(/t/c/[^"]+)"', html)
    assert pixel and link
    pixel_path, link_path = pixel.group(1), link.group(1)
    assert (await api.get(pixel_path, headers={"User-Agent": GMAIL})).status_code == 200
    await api.get(pixel_path, headers={"User-Agent": GMAIL})
    redirect = await api.get(link_path)
    assert redirect.status_code == 302 and redirect.headers["location"] == "https://shop.test/p"
    opens = (await api.get("/messages/outbound/opens", params={"count": 10, "offset": 0})).json()
    assert opens["TotalCount"] == 2 and [o["FirstOpen"] for o in opens["Opens"]] == [False, True]
    assert opens["Opens"][0]["Client"]["Name"].startswith("Gmail")
    clicks = (
        await api.get(f"/messages/outbound/clicks/{sent[0]}", params={"count": 10, "offset": 0})
    ).json()
    assert clicks["Clicks"][0]["OriginalLink"] == "https://shop.test/p"
    overview = (await api.get("/stats/outbound")).json()
    assert overview["Sent"] == 2 and overview["Opens"] == 2 and overview["UniqueOpens"] == 1
    assert overview["TotalClicks"] == 1
    sends = (await api.get("/stats/outbound/sends")).json()
    assert sends["Sent"] == 2 and len(sends["Days"]) == 1
    platforms = (await api.get("/stats/outbound/opens/platforms")).json()
    assert platforms["WebMail"] == 2
    assert (await api.get("/messages/outbound")).json()["ErrorCode"] == 700
