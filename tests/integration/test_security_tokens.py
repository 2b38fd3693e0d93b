"""Signed URL tokens over HTTP, on both databases: a click link redirects only to the link
that was in the message, and a tampered, truncated, re-targeted or other-server token for a
click, an unsubscribe, the preference centre or an opt-in confirmation does nothing."""

from __future__ import annotations

import email
import email.policy
import random
import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from builders import Tenant
from misiva.accounts.servers import create_server
from misiva.domain.clock import utcnow
from misiva.runtime.wiring import Platform
from misiva.storage import suppressions as suppression_store

SEED = 12
LINK = "https://shop.test/offer?x=1"
EVIL = "https://evil.test/phish"


def _tampered(token: str, rng: random.Random) -> list[str]:
    """A token's forgeries: each byte position flipped (sampled), truncated, extended."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    positions = rng.sample(range(len(token)), min(12, len(token)))
    flipped = [
        token[:i] + rng.choice(alphabet.replace(token[i], "")) + token[i + 1 :] for i in positions
    ]
    return [*flipped, token[:-4], token[: len(token) // 2], token + "AAAA", "", "x" * 40]


def _path(url: str) -> str:
    return urlsplit(url).path


async def _tracked_link(api: httpx.AsyncClient) -> str:
    sent = await api.post(
        "/email",
        json={
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "Subject": "Offer",
            "HtmlBody": f'<a href="{LINK}">go</a>',
            "TrackLinks": "HtmlOnly",
        },
    )
    assert sent.status_code == 200, sent.text
    dump = await api.get(f"/messages/outbound/{sent.json()['MessageID']}/dump")
    parsed = email.message_from_bytes(dump.json()["Body"].encode(), policy=email.policy.default)
    html = parsed.get_body(("html",))
    assert html is not None
    [url] = re.findall(r'href="([^"]+/t/c/[^"]+)"', html.get_content())
    return url


async def test_click_links_redirect_only_to_the_link_in_the_message(
    api: httpx.AsyncClient,
) -> None:
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    url = await _tracked_link(api)
    real = await api.get(_path(url))
    assert real.status_code in (301, 302, 303, 307) and real.headers["location"] == LINK
    token = _path(url).rsplit("/", 1)[1]
    forged = [*_tampered(token, rng), EVIL, "https:%2F%2Fevil.test", "%2F%2Fevil.test"]
    for fake in forged:
        answer = await api.get(f"/t/c/{fake}")
        location = answer.headers.get("location", "")
        assert "evil" not in location, (fake, location)
        assert answer.status_code < 300 or answer.status_code >= 400 or location == LINK, fake
        # A flipped byte inside the payload never yields a redirect, even to the real link.
        if fake != token and answer.status_code in (301, 302, 303, 307):
            raise AssertionError(f"tampered token {fake!r} redirected to {location}")


async def test_tampered_unsubscribe_preference_and_opt_in_tokens_do_nothing(
    platform: Platform, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    rng = random.Random(SEED)
    links = platform.api_deps().links
    secret = tenant.server.secret
    other = await create_server(platform.db, "other")
    expires = utcnow() + timedelta(days=1)
    genuine = {
        "unsubscribe": links.unsubscribe(tenant.server.id, secret, "outbound", "ana@example.com"),
        "preferences": links.preferences(tenant.server.id, secret, "ana@example.com"),
        "confirm": links.confirm(tenant.server.id, secret, "outbound", "ana@example.com", expires),
    }
    # Signed with another server's secret, but naming this server: a tenant forging links
    # for another tenant's recipients.
    cross = links.unsubscribe(tenant.server.id, other.server.secret, "outbound", "bea@example.com")
    for kind, url in genuine.items():
        path = _path(url)
        base, token = path.rsplit("/", 1)
        # A genuine confirmation with no pending request is 410 (gone); forgeries are 404.
        assert (await api.get(path)).status_code in ((200, 410) if kind == "confirm" else (200,))
        for fake in [*_tampered(token, rng), _path(cross).rsplit("/", 1)[1]]:
            got = await api.get(f"{base}/{fake}")
            assert got.status_code in (400, 404), (kind, fake, got.status_code)
            posted = await api.post(f"{base}/{fake}", data={"List-Unsubscribe": "One-Click"})
            assert posted.status_code in (400, 404, 405), (kind, fake, posted.status_code)
    async with platform.db.reading() as tx:
        found = await suppression_store.suppressed_among(
            tx, tenant.server.id, "outbound", ["ana@example.com", "bea@example.com"]
        )
    assert found == {}
