"""`misiva scheduled list` and `cancel` as an operator runs them, against a real installation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from harness import Misiva
from misiva.config import Settings
from misiva.domain.message import SendFields
from misiva.ingest.schedule import SendScheduler
from misiva.runtime.wiring import build_platform


async def test_scheduled_list_and_cancel(misiva_factory: Callable[..., Misiva]) -> None:
    misiva = misiva_factory()
    misiva.setup_tenant()
    send_at = datetime.now(UTC) + timedelta(days=2)
    platform = build_platform(Settings(database_url=misiva.env["MISIVA_DATABASE_URL"]))
    try:
        context = await platform.directory.by_name("shop")
        results = await SendScheduler(platform.db, platform.ingestor).send_or_schedule(
            context,
            [
                SendFields(
                    from_="hola@shop.test", to=f"{name}@example.com", subject="Later", text_body="x"
                )
                for name in ("ana", "bob")
            ],
            [send_at, send_at + timedelta(hours=1)],
        )
    finally:
        await platform.close()
    ana, bob = (r.message_id for r in results)
    listed = misiva.cli_json("scheduled", "list", "--server", "shop")
    assert listed["TotalCount"] == 2
    assert [m["MessageID"] for m in listed["ScheduledMessages"]] == [ana, bob]
    text = misiva.cli("scheduled", "list", "--server", "shop").stdout
    assert ana in text and "ana@example.com" in text and "'Later'" in text

    cancelled = misiva.cli("scheduled", "cancel", bob, "--server", "shop")
    assert f"cancelled {bob}" in cancelled.stdout
    again = misiva.cli("scheduled", "cancel", bob, "--server", "shop", check=False)
    assert again.returncode == 1 and "already cancelled" in again.stderr
    assert "Traceback" not in again.stderr
    waiting = misiva.cli_json("scheduled", "list", "--server", "shop", "--status", "scheduled")
    assert [m["MessageID"] for m in waiting["ScheduledMessages"]] == [ana]
    bad = misiva.cli("scheduled", "list", "--server", "shop", "--status", "later", check=False)
    assert bad.returncode == 1 and "use one of scheduled, sent" in bad.stderr
    unknown = misiva.cli("scheduled", "cancel", "nope", "--server", "shop", check=False)
    assert unknown.returncode == 1 and "No scheduled message" in unknown.stderr
