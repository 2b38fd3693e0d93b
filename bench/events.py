"""Accepting application events: POST /events through the app as `misiva serve` builds it.

    .venv/bin/python bench/events.py [--events 2000] [--concurrency 10]
        [--backends sqlite,postgresql]

For each database, two runs side by side on the same data: events no rule listens to (the
store alone: the event, the contact), then events two rules listen to (an order's receipt
now, and a follow-up in three days with a condition, a cap and a cancelling event: the
whole evaluation, a template check and two scheduled messages each). Reported: events/s and
the median and p95 of a request, over ASGI (no network), `--concurrency` requests at once.
Figures to compare, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from dashboard import on_each_backend
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import build_platform

RECEIPT = {
    "Name": "Order confirmation",
    "Alias": "receipt",
    "Subject": "Order {{ order.number }}",
    "HtmlBody": "<p>Hi {{ contact.first_name | default('there') }}: {{ order.number }}.</p>",
}
RULES = (
    {"Key": "receipt", "EventName": "order.placed", "Template": "receipt"},
    {
        "Key": "follow-up",
        "EventName": "order.placed",
        "Template": "receipt",
        "Condition": "order.total > 10",
        "DelayMinutes": 3 * 24 * 60,
        "Cap": {"Count": 3, "PeriodHours": 24},
        "CancelOn": ["order.cancelled"],
    },
)


async def _run(api: httpx.AsyncClient, name: str, events: int, concurrency: int) -> list[float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(events):
        queue.put_nowait(n)
    took: list[float] = []

    async def one() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            body = {
                "Name": name,
                "Email": f"person{n}@example.com",
                "Data": {"order": {"number": f"A-{n}", "total": 20 + n % 50}},
                "Contact": {"FirstName": f"P{n}"},
            }
            began = time.perf_counter()
            answer = await api.post("/events", json=body)
            took.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return took


async def bench(kind: str, url: str, events: int, concurrency: int) -> None:
    platform = build_platform(Settings(database_url=url, routes="*=capture"))
    try:
        created = await create_server(platform.db, "bench")
        await add_domain(platform.db, "shop.test", "bench")
        transport = httpx.ASGITransport(app=create_app(platform.api_deps()))
        headers = {"X-Postmark-Server-Token": created.api_token}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://misiva.test", headers=headers
        ) as api:
            assert (await api.post("/templates", json=RECEIPT)).status_code == 200
            for rule in RULES:
                made = await api.post("/triggers", json={**rule, "From": "hola@shop.test"})
                assert made.status_code == 200, made.text
            for label, name in (("no rule", "page.viewed"), ("two rules", "order.placed")):
                began = time.perf_counter()
                took = await _run(api, name, events, concurrency)
                rate = events / (time.perf_counter() - began)
                took.sort()
                print(
                    f"{kind:10} {label:9} {rate:7.0f} events/s   median "
                    f"{statistics.median(took) * 1000:6.1f} ms   p95 "
                    f"{took[int(len(took) * 0.95)] * 1000:6.1f} ms"
                )
    finally:
        await platform.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    on_each_backend(
        args.backends,
        "events.db",
        lambda kind, url: bench(kind, url, args.events, args.concurrency),
    )


if __name__ == "__main__":
    main()
