"""`misiva triggers list`, `triggers dry-run` and `events show` as an operator runs them,
against a real installation whose rules and events were made through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from harness import Misiva
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.runtime.wiring import build_platform

RECEIPT = {
    "Name": "Receipt",
    "Alias": "receipt",
    "Subject": "Order {{ order.number }}",
    "TextBody": "Thanks for order {{ order.number }}.",
}


async def _setup(misiva: Misiva, token: str) -> None:
    """A rule, and yesterday's two orders (one without the number the receipt needs)."""
    platform = build_platform(Settings(database_url=misiva.env["MISIVA_DATABASE_URL"]))
    yesterday = datetime.now(UTC).replace(hour=10, minute=0) - timedelta(days=1)
    try:
        transport = httpx.ASGITransport(app=create_app(platform.api_deps()))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://misiva.test",
            headers={"X-Postmark-Server-Token": token},
        ) as api:
            assert (await api.post("/templates", json=RECEIPT)).status_code == 200
            rule = {
                "Key": "receipt",
                "EventName": "order.placed",
                "Template": "receipt",
                "From": "hola@shop.test",
                "DelayMinutes": 1440,
                "Condition": "order.total > 10",
            }
            assert (await api.post("/triggers", json=rule)).status_code == 200
            for number, data in enumerate([{"number": "A-1", "total": 80}, {"total": 90}]):
                posted = await api.post(
                    "/events",
                    json={
                        "Name": "order.placed",
                        "Email": f"c{number}@example.com",
                        "Data": {"order": data},
                        "EventID": f"order-{number}",
                        "OccurredAt": (yesterday + timedelta(hours=number)).isoformat(),
                    },
                )
                assert posted.status_code == 200, posted.text
    finally:
        await platform.close()


async def test_triggers_list_dry_run_and_events_show(
    misiva_factory: Callable[..., Misiva],
) -> None:
    misiva = misiva_factory()
    token, _ = misiva.setup_tenant()
    await _setup(misiva, token)
    server = ("--server", "shop")

    [listed] = misiva.cli_json("triggers", "list", *server)
    assert (listed["Key"], listed["DelayMinutes"], listed["Version"]) == ("receipt", 1440, 1)
    text = misiva.cli("triggers", "list", *server).stdout
    assert "receipt" in text and "on order.placed" in text and "1 day" in text
    assert "when order.total > 10" in text

    run = misiva.cli_json("triggers", "dry-run", "receipt", *server)
    assert (run["TotalEvents"], run["WouldFire"]) == (2, 1)
    assert [e["Subject"] for e in run["Events"]] == ["Order A-1", None]
    assert "needs order.number" in run["Events"][1]["Reason"]
    shown = misiva.cli("triggers", "dry-run", "receipt", *server).stdout
    assert "would fire on 1" in shown and "'Order A-1'" in shown and "error:" in shown
    long_ago = ("--since", "2020-01-01", "--until", "2020-01-02")
    empty = misiva.cli_json("triggers", "dry-run", "receipt", *server, *long_ago)
    assert empty["TotalEvents"] == 0

    event = misiva.cli_json("events", "show", "order-0", *server)
    assert event["Rules"][0]["Outcome"] == "scheduled"
    assert event["Messages"][0]["Status"] == "scheduled"
    text = misiva.cli("events", "show", "order-1", *server).stdout
    assert "rule receipt v1: error" in text and "needs order.number" in text

    for args, message in [
        (("events", "show", "nope", *server), "The event 'nope' was not found."),
        (("triggers", "dry-run", "nope", *server), "The trigger 'nope' was not found."),
        (("triggers", "dry-run", "receipt", *server, "--since", "May"), "ISO 8601"),
        (("triggers", "list", "--server", "ghost"), "no server named 'ghost'"),
    ]:
        failed = misiva.cli(*args, check=False)
        assert failed.returncode == 1 and message in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr
