"""Under contention, transactional mail is sent before commercial (Broadcasts) mail queued
earlier: the queue's claim takes it first."""

from __future__ import annotations

import httpx

from builders import Tenant
from misiva.config import Settings
from misiva.runtime.wiring import build_platform
from misiva.testing.smtp_sink import SmtpSink

NEWS = {
    "ID": "news",
    "Name": "Newsletter",
    "MessageStreamType": "Broadcasts",
    "Subscriptions": {"RequireConfirmedOptIn": False},
}


def _email(to: str, stream: str) -> dict[str, str]:
    return {
        "From": "hola@shop.test",
        "To": to,
        "Subject": stream,
        "TextBody": "Hola",
        "MessageStream": stream,
    }


async def test_a_transactional_message_is_sent_before_queued_broadcasts(
    api: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    assert (await api.post("/message-streams", json=NEWS)).status_code == 200
    for n in range(6):
        queued = await api.post("/email", json=_email(f"reader{n}@example.com", "news"))
        assert queued.status_code == 200, queued.text
    reset = await api.post("/email", json=_email("ana@example.com", "outbound"))
    assert reset.status_code == 200, reset.text
    with SmtpSink() as sink:
        # A worker with room for two at a time: the queue holds more than it can take.
        settings = Settings(
            database_url=database_url,
            routes=f"*=smtp://127.0.0.1:{sink.port}",
            worker_batch_size=2,
        )
        platform = build_platform(settings)
        try:
            worker = platform.new_worker()
            assert await worker.run_once() == 2
            first = {m.rcpt_tos[0] for m in sink.messages}
            assert "ana@example.com" in first, "the newsletter went before the reset"
            while await worker.run_once():
                pass
        finally:
            await platform.close()
        assert sink.count == 7
