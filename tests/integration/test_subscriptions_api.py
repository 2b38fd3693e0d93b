"""Subscriptions in-process, on SQLite and PostgreSQL: double opt-in, the links' pages, the
preference centre, the opt-in policy at accept, and what a bad or old link gets."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest

from builders import Tenant
from misiva.authoring.sync import push
from misiva.domain.clock import utcnow
from misiva.domain.enums import EventType
from misiva.domain.subscriptions import Requester
from misiva.mail.mime import extract_bodies
from misiva.runtime.wiring import Platform
from misiva.scheduler.subscriptions import ExpiredRequests
from misiva.starter import starter_dir
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import subscriptions as subscription_store
from misiva.subscriptions.optin import OptIn
from misiva.subscriptions.views import LinkState
from misiva.tracking.consent_tokens import ConsentLinks

BROADCAST = {
    "From": "hola@shop.test",
    "Subject": "Oferta",
    "HtmlBody": "<p>Oferta</p>",
    "MessageStream": "broadcast",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def ready(platform: Platform, tenant: Tenant, api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The starter library installed and the broadcast stream given a From."""
    await push(platform.db, tenant.server.id, starter_dir() / "templates")
    patched = await api.patch(
        "/message-streams/broadcast", json={"Subscriptions": {"From": "Shop <hola@shop.test>"}}
    )
    assert patched.status_code == 200, patched.text
    return api


async def _stored_text(platform: Platform, message_id: str) -> str:
    async with platform.db.reading() as tx:
        message = await message_store.get_message(tx, message_id)
    assert message is not None
    text, _ = extract_bodies(message.mime)
    assert text is not None
    return text


async def _ask(api: httpx.AsyncClient, email: str = "ana@example.com") -> dict[str, str]:
    asked = await api.post(
        "/subscriptions",
        json={"Email": email, "MessageStream": "broadcast", "Source": "checkout", "Locale": "en"},
    )
    assert asked.status_code == 200, asked.text
    result: dict[str, str] = asked.json()
    return result


def _path(url: str) -> str:
    """The path of one of our links: the in-process client serves any host."""
    return "/" + url.split("/", 3)[3]


async def _confirm_link(platform: Platform, asked: dict[str, str]) -> str:
    text = await _stored_text(platform, asked["ConfirmationMessageID"])
    found = re.search(r"https?://\S+/subscriptions/confirm/\S+", text)
    assert found is not None, text
    return found.group(0)


async def test_a_request_stores_a_pending_subscription_and_queues_its_confirmation(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    asked = await _ask(ready)
    assert asked["Status"] == "Pending" and asked["ExpiresAt"]
    async with platform.db.reading() as tx:
        message = await message_store.get_message(tx, asked["ConfirmationMessageID"])
    assert message is not None and message.stream == "outbound"
    assert message.to == [("ana@example.com", "")] and message.sender == "Shop <hola@shop.test>"
    assert "Confirm" in message.subject
    refused = await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})
    assert refused.status_code == 422 and refused.json()["ErrorCode"] == 406
    assert "ana@example.com" in refused.json()["Message"]


async def test_the_link_confirms_once_and_the_broadcast_then_goes_out(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    link = _path(await _confirm_link(platform, await _ask(ready)))
    first = await ready.get(link)
    second = await ready.get(link)
    assert first.status_code == second.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    sent = await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})
    assert sent.status_code == 200, sent.text
    profile = (await ready.get("/contacts/ana@example.com/subscriptions")).json()
    assert [s["Status"] for s in profile["Subscriptions"]] == ["Confirmed"]
    assert [r["Action"] for r in profile["ConsentHistory"]] == [
        "requested",
        "confirmation_sent",
        "confirmed",
    ]
    assert profile["PreferencesUrl"].startswith("http://127.0.0.1:8025/preferences/")
    # Confirmed already: asking again sends nothing and says so.
    again = await _ask(ready)
    assert again["Status"] == "Confirmed"


async def test_an_expired_link_is_refused_and_the_request_is_purged(
    platform: Platform, tenant: Tenant, ready: httpx.AsyncClient
) -> None:
    await ready.patch(
        "/message-streams/broadcast", json={"Subscriptions": {"ConfirmationExpiresHours": 1}}
    )
    link = await _confirm_link(platform, await _ask(ready))
    token = link.rsplit("/", 1)[1]
    later = utcnow() + timedelta(hours=1, minutes=1)
    late = OptIn(platform.db, ConsentLinks("http://x"), platform.ingestor, clock=lambda: later)
    view = await late.confirm(token, Requester())
    assert view.state is LinkState.EXPIRED
    async with platform.db.reading() as tx:
        pending = await subscription_store.get_subscription(
            tx, tenant.server.id, "broadcast", "ana@example.com"
        )
    assert pending is not None and pending.status.value == "pending"
    assert await ExpiredRequests(platform.db, clock=lambda: later).run_once() == 1
    gone = await ready.get(_path(link))
    assert gone.status_code == 410 and "<h1" in gone.text
    profile = (await ready.get("/contacts/ana@example.com/subscriptions")).json()
    assert profile["Subscriptions"] == [] and profile["ConsentHistory"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/unsubscribe/AQAB"),
        ("POST", "/unsubscribe/not-a-token"),
        ("GET", "/preferences/" + "A" * 40),
        ("POST", "/preferences/xyz"),
        ("GET", "/subscriptions/confirm/AQIDBwHI7j0MXopxERFCIoMzRERVVWZmD2FuYUBleGFtcGxl"),
    ],
)
async def test_a_forged_link_gets_a_page_and_changes_nothing(
    ready: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await ready.request(method, path, content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html") and "<h1" in answer.text
    dump = await ready.get("/message-streams/broadcast/suppressions/dump")
    assert dump.json()["Suppressions"] == []


async def test_another_servers_secret_or_an_altered_token_is_refused(
    platform: Platform, tenant: Tenant, ready: httpx.AsyncClient
) -> None:
    links = ConsentLinks("http://x")
    foreign = links.unsubscribe(tenant.server.id, "ab" * 32, "broadcast", "ana@example.com")
    assert (await ready.post(_path(foreign))).status_code == 404
    genuine = links.unsubscribe(
        tenant.server.id, tenant.server.secret, "broadcast", "ana@example.com"
    )
    # Another last character: a different signature, or a non-canonical spelling.
    altered = genuine[:-1] + ("B" if genuine.endswith("A") else "A")
    assert (await ready.post(_path(altered))).status_code == 404
    assert (await ready.get(_path(genuine))).status_code == 200
    dump = await ready.get("/message-streams/broadcast/suppressions/dump")
    assert dump.json()["Suppressions"] == []


async def test_the_page_asks_and_the_post_unsubscribes_and_mails_the_confirmation(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    await ready.get(_path(await _confirm_link(platform, await _ask(ready))))
    sent = (await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})).json()
    async with platform.db.reading() as tx:
        message = await message_store.get_message(tx, sent["MessageID"])
    assert message is not None
    header = re.search(rb"List-Unsubscribe: <([^>]+)>", message.mime)
    assert header is not None
    url = _path(header.group(1).decode())
    page = await ready.get(url)
    assert page.status_code == 200 and 'value="One-Click"' in page.text
    assert (await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})).is_success
    done = await ready.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert done.status_code == 200
    refused = await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})
    assert refused.json()["ErrorCode"] == 406
    listed = await ready.get("/messages/outbound", params={"count": 10, "offset": 0})
    subjects = [m["Subject"] for m in listed.json()["Messages"]]
    assert any("unsubscribed" in s.lower() for s in subjects), subjects


async def test_the_footer_link_is_the_header_link_and_is_never_tracked(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    template = {
        "Name": "Offer",
        "Alias": "offer",
        "Subject": "Offer",
        "HtmlBody": '<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        '<a href="{{ preferences_url }}">Preferences</a><a href="https://shop.test/x">x</a>',
        "TextBody": "Leave: {{ unsubscribe_url }}",
    }
    assert (await ready.post("/templates", json=template)).status_code == 200
    await ready.patch(
        "/message-streams/broadcast", json={"Subscriptions": {"RequireConfirmedOptIn": False}}
    )
    sent = await ready.post(
        "/email/withTemplate",
        json={
            "From": "hola@shop.test",
            "To": "bea@example.com",
            "TemplateAlias": "offer",
            "TemplateModel": {},
            "MessageStream": "broadcast",
            "TrackLinks": "HtmlAndText",
        },
    )
    assert sent.status_code == 200, sent.text
    async with platform.db.reading() as tx:
        message = await message_store.get_message(tx, sent.json()["MessageID"])
    assert message is not None
    header = re.search(rb"List-Unsubscribe: <([^>]+)>", message.mime)
    assert header is not None
    text, html = extract_bodies(message.mime)
    assert text is not None and html is not None
    assert header.group(1).decode() in text and header.group(1).decode() in html
    assert "/preferences/" in html and html.count("/t/c/") == 1


async def test_the_preference_centre_lists_topics_and_saves_choices(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    created = await ready.post(
        "/message-streams",
        json={
            "ID": "news",
            "Name": "Monthly news",
            "Description": "What is new each month",
            "MessageStreamType": "Broadcasts",
            "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": "Postmark"},
            "Subscriptions": {"RequireConfirmedOptIn": False},
        },
    )
    assert created.status_code == 200, created.text
    await ready.get(_path(await _confirm_link(platform, await _ask(ready))))
    url = _path(
        (await ready.get("/contacts/ana@example.com/subscriptions")).json()["PreferencesUrl"]
    )
    page = await ready.get(url)
    assert page.status_code == 200 and "Monthly news" in page.text
    assert len(re.findall(r'name="topic"[^>]*checked|checked[^>]*name="topic"', page.text)) == 2
    # Not our form: nothing changes.
    assert (await ready.post(url, content=b"", headers=FORM)).status_code == 200
    assert (await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})).is_success
    kept_news = await ready.post(url, content=b"form=preferences&topic=news", headers=FORM)
    assert kept_news.status_code == 200
    on_broadcast = await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})
    on_news = await ready.post(
        "/email", json={**BROADCAST, "MessageStream": "news", "To": "ana@example.com"}
    )
    assert on_broadcast.json()["ErrorCode"] == 406 and on_news.status_code == 200
    await ready.post(url, content=b"form=preferences&all=off&topic=news", headers=FORM)
    on_news = await ready.post(
        "/email", json={**BROADCAST, "MessageStream": "news", "To": "ana@example.com"}
    )
    assert on_news.json()["ErrorCode"] == 406
    back = await ready.post(url, content=b"form=preferences&topic=broadcast", headers=FORM)
    assert back.status_code == 200
    assert (await ready.post("/email", json={**BROADCAST, "To": "ana@example.com"})).is_success
    history = (await ready.get("/contacts/ana@example.com/subscriptions")).json()
    actions = [(r["MessageStream"], r["Action"], r["Source"]) for r in history["ConsentHistory"]]
    assert actions[3:] == [
        ("broadcast", "unsubscribed", "preference-centre"),
        ("news", "unsubscribed", "preference-centre"),
        ("broadcast", "resubscribed", "preference-centre"),
    ]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"Email": "ana@example.com", "MessageStream": "nope"}, 1235, "does not exist"),
        ({"Email": "not an address", "MessageStream": "broadcast"}, 300, "Email"),
        ({"MessageStream": "broadcast"}, 300, "Email"),
        ({"Email": "ana@example.com", "MessageStream": "outbound"}, 300, "confirmation template"),
        ({"Email": 7, "MessageStream": "broadcast"}, 300, "Email"),
    ],
)
async def test_bad_requests_get_a_clear_error(
    ready: httpx.AsyncClient, body: dict[str, object], code: int, words: str
) -> None:
    answer = await ready.post("/subscriptions", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["ErrorCode"] == code and words in answer.json()["Message"]


async def test_a_stream_without_a_from_needs_one_in_the_request(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    await push(platform.db, tenant.server.id, starter_dir() / "templates")
    body = {"Email": "ana@example.com", "MessageStream": "broadcast"}
    refused = await api.post("/subscriptions", json=body)
    assert refused.status_code == 422 and "From" in refused.json()["Message"]
    accepted = await api.post("/subscriptions", json={**body, "From": "hola@shop.test"})
    assert accepted.status_code == 200 and accepted.json()["Status"] == "Pending"
    resent = await api.post("/subscriptions/resend", json={**body, "From": "hola@shop.test"})
    assert resent.status_code == 200
    assert resent.json()["ConfirmationMessageID"] != accepted.json()["ConfirmationMessageID"]
    nothing = await api.post(
        "/subscriptions/resend", json={"Email": "bea@example.com", "From": "hola@shop.test"}
    )
    assert nothing.status_code == 422 and "no pending subscription" in nothing.json()["Message"]


async def test_erasure_takes_subscriptions_and_proof_but_keeps_the_suppression(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    asked = await ready.post(
        "/subscriptions",
        json={"Email": "ana@example.com", "Contact": {"FirstName": "Ana"}},
    )
    assert asked.status_code == 200
    await ready.get(_path(await _confirm_link(platform, asked.json())))
    url = _path(
        (await ready.get("/contacts/ana@example.com/subscriptions")).json()["PreferencesUrl"]
    )
    await ready.post(url, content=b"form=preferences&all=off", headers=FORM)
    assert (await ready.delete("/contacts/ana@example.com")).status_code == 200
    profile = (await ready.get("/contacts/ana@example.com/subscriptions")).json()
    assert profile["Subscriptions"] == [] and profile["ConsentHistory"] == []
    assert profile["Suppressions"] == [
        {"MessageStream": "broadcast", "SuppressionReason": "ManualSuppression"}
    ]


async def test_the_suppressions_api_records_customer_subscription_changes(
    platform: Platform, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    body = {"Suppressions": [{"EmailAddress": "x@example.com"}]}
    await api.post("/message-streams/broadcast/suppressions", json=body)
    await api.post("/message-streams/broadcast/suppressions", json=body)  # no change
    await api.post("/message-streams/broadcast/suppressions/delete", json=body)
    await api.post("/message-streams/broadcast/suppressions/delete", json=body)  # no change
    async with platform.db.reading() as tx:
        _total, changes = await event_store.list_server_events(
            tx, tenant.server.id, EventType.SUBSCRIPTION_CHANGED
        )
    assert [
        (c.message_id, c.recipient, c.details["origin"], c.details["suppress_sending"])
        for c in reversed(changes)
    ] == [(None, "x@example.com", "Customer", "true"), (None, "x@example.com", "Customer", "false")]


async def test_asking_twice_at_once_mails_the_person_once(ready: httpx.AsyncClient) -> None:
    first = await _ask(ready)
    second = await _ask(ready)
    assert second["ConfirmationMessageID"] == first["ConfirmationMessageID"]
    resent = await ready.post(
        "/subscriptions/resend", json={"Email": "ana@example.com", "MessageStream": "broadcast"}
    )
    assert resent.json()["ConfirmationMessageID"] != first["ConfirmationMessageID"]


async def test_the_starter_layout_offers_a_way_out_only_on_commercial_mail(
    platform: Platform, ready: httpx.AsyncClient
) -> None:
    await ready.patch(
        "/message-streams/broadcast", json={"Subscriptions": {"RequireConfirmedOptIn": False}}
    )
    model = json.loads((starter_dir() / "templates/shipping-notice/test-model.json").read_text())
    bodies = {}
    for stream in ("broadcast", "outbound"):
        sent = await ready.post(
            "/email/withTemplate",
            json={
                "From": "hola@shop.test",
                "To": "bea@example.com",
                "TemplateAlias": "shipping-notice",
                "TemplateModel": model,
                "MessageStream": stream,
                "Locale": "en",
            },
        )
        assert sent.status_code == 200, sent.text
        async with platform.db.reading() as tx:
            message = await message_store.get_message(tx, sent.json()["MessageID"])
        assert message is not None
        bodies[stream] = extract_bodies(message.mime)
    commercial_text, commercial_html = bodies["broadcast"]
    service_text, service_html = bodies["outbound"]
    assert (
        commercial_html and "/unsubscribe/" in commercial_html and "Unsubscribe" in commercial_html
    )
    assert commercial_text and "/unsubscribe/" in commercial_text
    assert "not advertising" not in (commercial_html or "")
    assert (
        service_html and "/unsubscribe/" not in service_html and "not advertising" in service_html
    )
    assert service_text and "/preferences/" not in service_text
