"""Scheduled messages in-process, on SQLite and PostgreSQL: SendAt on the send endpoints, the
/scheduled-messages API, and the releaser moved through time by the test's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from builders import Tenant
from misiva.accounts.servers import create_server
from misiva.domain.automation import ScheduledStatus
from misiva.domain.enums import EventType
from misiva.domain.ids import new_message_id
from misiva.domain.message import SendFields, fields_to_json
from misiva.ingest.scheduled import ReleaserConfig, ScheduledReleaser
from misiva.runtime.wiring import Platform
from misiva.storage import events as event_store
from misiva.storage import messages as message_store
from misiva.storage import scheduled as scheduled_store

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    """Each test's own "now": the API runs on the real clock, so a module-wide time taken at
    import would be minutes old in a long run, and a SendAt a minute after it in the past."""
    global NOW
    NOW = datetime.now(UTC)


ORDER = {
    "Name": "Order follow-up",
    "Alias": "follow-up",
    "Subject": "About order {{ order.number }}",
    "HtmlBody": "<p>Hi {{ contact.first_name | default('there') }}, order {{ order.number }}.</p>",
}


def _at(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


def _releaser(platform: Platform, moment: datetime) -> ScheduledReleaser:
    return ScheduledReleaser(
        platform.db, platform.ingestor, platform.directory, clock=_fixed(moment)
    )


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _templated(send_at: str | None, model: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "From": "hola@shop.test",
        "To": "ana@example.com",
        "TemplateAlias": "follow-up",
        "TemplateModel": {"order": {"number": "A-7"}} if model is None else model,
    }
    if send_at is not None:
        body["SendAt"] = send_at
    return body


async def _template(api: httpx.AsyncClient) -> None:
    response = await api.post("/templates", json=ORDER)
    assert response.status_code == 200, response.text


async def _messages(platform: Platform) -> int:
    async with platform.db.reading() as tx:
        return sum((await message_store.count_by_status(tx)).values())


async def test_send_at_in_the_future_is_scheduled_listed_and_cancelled(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    send_at = _at(timedelta(days=3))
    response = await api.post(
        "/email",
        json={
            "From": "hola@shop.test",
            "To": "Ana <ana@example.com>",
            "Subject": "Later",
            "TextBody": "Hello later",
            "SendAt": send_at,
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ErrorCode"] == 0 and answer["To"] == "Ana <ana@example.com>"
    assert answer["Message"] == f"Scheduled for {datetime.fromisoformat(send_at).isoformat()}."
    message_id = answer["MessageID"]
    assert await _messages(platform) == 0

    listed = (await api.get("/scheduled-messages", params={"status": "scheduled"})).json()
    assert listed["TotalCount"] == 1
    [entry] = listed["ScheduledMessages"]
    assert entry["MessageID"] == message_id and entry["Status"] == "scheduled"
    assert entry["Recipient"] == "ana@example.com" and entry["Subject"] == "Later"
    assert datetime.fromisoformat(entry["SendAt"]) == datetime.fromisoformat(send_at)
    one = (await api.get(f"/scheduled-messages/{message_id}")).json()
    assert one["MessageID"] == message_id

    cancelled = await api.delete(f"/scheduled-messages/{message_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["ScheduledMessage"]["Status"] == "cancelled"
    again = await api.delete(f"/scheduled-messages/{message_id}")
    assert again.status_code == 422 and "already cancelled" in again.json()["Message"]
    assert (await api.get("/scheduled-messages?status=scheduled")).json()["TotalCount"] == 0
    # A cancelled message is never released.
    released = await _releaser(platform, NOW + timedelta(days=4)).run_once()
    assert len(released) == 0 and await _messages(platform) == 0


async def test_a_bad_scheduled_send_is_refused_at_once(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    await _template(api)
    later = _at(timedelta(hours=1))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**_templated(later), "From": "hola@elsewhere.test"}, 400, "Sender Signature"),
        ({**_templated(later), "TemplateAlias": "nope"}, 1101, "TemplateAlias"),
        ({**_templated(later), "MessageStream": "nope"}, 1235, "MessageStream"),
        ({**_templated(later), "To": "not an address"}, 300, "To"),
        (_templated("next tuesday"), 300, "ISO 8601"),
        (_templated("2030-01-01T09:00:00"), 300, "time zone"),
        (_templated(_at(timedelta(days=366))), 300, "365 days"),
    ]
    for body, code, words in cases:
        response = await api.post("/email/withTemplate", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["ErrorCode"] == code, (body, response.json())
        assert words in response.json()["Message"], (body, response.json())
    # In a batch, each refusal in its place, the good ones scheduled or sent.
    batch = await api.post(
        "/email/batchWithTemplates",
        json={
            "Messages": [
                _templated(later),
                {**_templated(later), "TemplateAlias": "nope"},
                _templated(None),
                _templated("yesterday"),
            ]
        },
    )
    results = batch.json()
    assert [r["ErrorCode"] for r in results] == [0, 1101, 0, 300]
    assert results[0]["Message"].startswith("Scheduled for") and results[2]["Message"] == "OK"
    async with platform.db.reading() as tx:
        assert await scheduled_store.count_scheduled(tx, 1) == 1
    assert await _messages(platform) == 1


async def test_send_at_now_or_past_sends_at_once(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    response = await api.post(
        "/email/batch",
        json=[
            {
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "Subject": "Now",
                "TextBody": "Now",
                "SendAt": _at(-timedelta(minutes=5)),
            }
        ],
    )
    [result] = response.json()
    assert result["ErrorCode"] == 0 and result["Message"] == "OK"
    assert await _messages(platform) == 1
    async with platform.db.reading() as tx:
        assert await scheduled_store.count_scheduled(tx, 1) == 0


async def test_released_when_due_with_the_message_id_it_was_given(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    await _template(api)
    await api.post("/contacts", json={"Email": "ana@example.com", "FirstName": "Ana"})
    response = await api.post("/email/withTemplate", json=_templated(_at(timedelta(hours=2))))
    message_id = response.json()["MessageID"]
    early = await _releaser(platform, NOW + timedelta(hours=1)).run_once()
    assert len(early) == 0 and await _messages(platform) == 0

    released = await _releaser(platform, NOW + timedelta(hours=2, seconds=1)).run_once()
    assert released.sent == (message_id,) and not released.failed
    details = await api.get(f"/messages/outbound/{message_id}/details")
    assert details.status_code == 200, details.text
    assert details.json()["Subject"] == "About order A-7"
    assert "Hi Ana, order A-7." in details.json()["HtmlBody"]
    entry = (await api.get(f"/scheduled-messages/{message_id}")).json()
    assert entry["Status"] == "sent" and entry["Attempts"] == 1
    assert len(await _releaser(platform, NOW + timedelta(days=1)).run_once()) == 0
    cancel = await api.delete(f"/scheduled-messages/{message_id}")
    assert cancel.status_code == 422 and "already sent" in cancel.json()["Message"]


async def test_a_release_that_fails_records_why(api: httpx.AsyncClient, platform: Platform) -> None:
    await _template(api)
    # Accepted for later: the content is rendered when it leaves, and the model lacks
    # order.number then (as when a template gains a variable while a message waits).
    response = await api.post(
        "/email/withTemplate", json=_templated(_at(timedelta(minutes=10)), model={})
    )
    message_id = response.json()["MessageID"]
    released = await _releaser(platform, NOW + timedelta(minutes=11)).run_once()
    [(failed_id, reason)] = released.failed
    assert failed_id == message_id and "order" in reason
    entry = (await api.get("/scheduled-messages", params={"status": "failed"})).json()
    [failed] = entry["ScheduledMessages"]
    assert failed["MessageID"] == message_id and "order" in failed["Error"]
    assert await _messages(platform) == 0


async def test_a_release_repeated_after_a_crash_is_accepted_once(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    await _template(api)
    ids = [
        (await api.post("/email/withTemplate", json=_templated(_at(timedelta(minutes=1))))).json()[
            "MessageID"
        ]
        for _ in range(3)
    ]
    due = NOW + timedelta(minutes=2)
    crashed = _releaser(platform, due)
    async with platform.db.transaction() as tx:
        claimed = await scheduled_store.claim_due(
            tx, releaser="crashed", now=due, lease_until=due + timedelta(seconds=30), limit=10
        )
    # Accepted, then the process died before it marked the rows sent.
    accepted = await crashed.accept(tenant.server.id, claimed)
    assert sorted(accepted.sent) == sorted(ids)
    assert len(await _releaser(platform, due + timedelta(seconds=29)).run_once()) == 0
    again = await _releaser(platform, due + timedelta(seconds=31)).run_once()
    assert sorted(again.sent) == sorted(ids)
    assert await _messages(platform) == 3
    async with platform.db.reading() as tx:
        for message_id in ids:
            events = await event_store.list_events(tx, message_id)
            assert [e.type for e in events] == [EventType.QUEUED]
            found = await scheduled_store.get_scheduled(tx, tenant.server.id, message_id)
            assert found is not None and found.status is ScheduledStatus.SENT
            assert found.attempts == 2


async def test_a_retried_request_schedules_once(api: httpx.AsyncClient, platform: Platform) -> None:
    body = [
        {
            "From": "hola@shop.test",
            "To": f"user{n}@example.com",
            "Subject": "Hi",
            "TextBody": "Hi",
            **({"SendAt": _at(timedelta(hours=1))} if n % 2 else {}),
        }
        for n in range(4)
    ]
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/email/batch", json=body, headers=headers)
    second = await api.post("/email/batch", json=body, headers=headers)
    assert first.json() == second.json()
    assert [r["Message"].split()[0] for r in first.json()] == ["OK", "Scheduled", "OK", "Scheduled"]
    assert await _messages(platform) == 2
    async with platform.db.reading() as tx:
        assert await scheduled_store.count_scheduled(tx, 1) == 2


async def test_another_servers_scheduled_messages_are_not_found(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    response = await api.post(
        "/email",
        json={
            "From": "hola@shop.test",
            "To": "ana@example.com",
            "Subject": "Later",
            "TextBody": "Later",
            "SendAt": _at(timedelta(hours=1)),
        },
    )
    message_id = response.json()["MessageID"]
    other = await create_server(platform.db, "other")
    headers = {"X-Postmark-Server-Token": other.api_token}
    for method in ("GET", "DELETE"):
        found = await api.request(method, f"/scheduled-messages/{message_id}", headers=headers)
        assert found.status_code == 422 and found.json()["ErrorCode"] == 701
    listed = await api.get("/scheduled-messages", headers=headers)
    assert listed.json()["TotalCount"] == 0
    bad = await api.get("/scheduled-messages", params={"status": "waiting"})
    assert bad.status_code == 422 and "scheduled, sent" in bad.json()["Message"]
    bad = await api.get("/scheduled-messages", params={"count": "0"})
    assert bad.status_code == 422


async def test_a_wake_up_releases_what_is_due_now_at_once(
    api: httpx.AsyncClient, platform: Platform, tenant: Tenant
) -> None:
    # A poll so slow that only the wake-up (ApiDeps.release_scheduled) explains a release.
    releaser = platform.releaser
    releaser.config = ReleaserConfig(poll_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(releaser.run(stop))
    try:
        await asyncio.sleep(0.2)  # its first pass found nothing; it sleeps
        message_id = new_message_id()
        async with platform.db.transaction() as tx:
            await scheduled_store.insert_scheduled(
                tx,
                message_id=message_id,
                server_id=tenant.server.id,
                email="ana@example.com",
                stream="outbound",
                send_at=datetime.now(UTC),
                fields=fields_to_json(
                    SendFields(
                        from_="hola@shop.test", to="ana@example.com", subject="Now", text_body="x"
                    )
                ),
                now=datetime.now(UTC),
            )
        platform.api_deps().release_scheduled()  # what a trigger does after its commit
        for _ in range(100):
            if await _messages(platform):
                break
            await asyncio.sleep(0.01)
        details = await api.get(f"/messages/outbound/{message_id}/details")
        assert details.status_code == 200, details.text
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
