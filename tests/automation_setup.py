"""What the automation tests share: a clock the test moves, the API on it (with the releaser's
wake-ups counted), the shop's templates, and trigger bodies."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from misiva.api.app import create_app
from misiva.runtime.wiring import Platform

# A Monday noon, in UTC: Madrid is at 13:00 (CET), Mexico City at 06:00.
NOW = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)

RECEIPT = {
    "Name": "Order confirmation",
    "Alias": "order-confirmation",
    "Subject": "Order {{ order.number }} confirmed",
    "HtmlBody": "<p>Hi {{ contact.first_name | default('there') }}, order {{ order.number }}.</p>",
    "TextBody": "Order {{ order.number }}",
}
CROSS_SELL = {
    "Name": "Cross-sell",
    "Alias": "cross-sell",
    "Subject": "Something for your {{ order.item }}",
    "HtmlBody": "<p>Liked the {{ order.item }}? Try our mugs.</p>",
}
REMINDER = {
    "Name": "Reminder",
    "Alias": "reminder",
    "Subject": "We are on it",
    "HtmlBody": "<p>Your request is being handled.</p>",
}


class MovableClock:
    """Time as the test says it is."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@asynccontextmanager
async def automation_api(
    platform: Platform, token: str, clock: MovableClock, wakes: list[int]
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the test's clock; each wake-up of the releaser is appended to `wakes`."""
    deps = dataclasses.replace(
        platform.api_deps(), clock=clock, release_scheduled=lambda: wakes.append(1)
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://misiva.test",
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
    ) as client:
        yield client


async def add_templates(api: httpx.AsyncClient) -> None:
    for template in (RECEIPT, CROSS_SELL, REMINDER):
        made = await api.post("/templates", json=template)
        assert made.status_code == 200, made.text


def trigger_body(key: str, event: str, template: str, **fields: Any) -> dict[str, Any]:
    return {
        "Key": key,
        "EventName": event,
        "Template": template,
        "From": "hola@shop.test",
        **fields,
    }


async def add_trigger(
    api: httpx.AsyncClient, key: str, event: str, template: str, **fields: Any
) -> dict[str, Any]:
    made = await api.post("/triggers", json=trigger_body(key, event, template, **fields))
    assert made.status_code == 200, made.text
    found: dict[str, Any] = made.json()
    return found


async def post_event(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    posted = await api.post("/events", json=body)
    assert posted.status_code == 200, posted.text
    found: dict[str, Any] = posted.json()
    return found


def rules_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An event's rule outcomes by trigger key."""
    return {r["TriggerKey"]: r for r in result["Rules"]}
