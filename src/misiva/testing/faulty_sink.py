"""Receivers that misbehave at random (seeded): an SMTP sink and a webhook receiver for the
fault suites (tests/e2e/test_faults_*.py, docs/reliability.md).

The SMTP sink answers a share of transactions with 421/451/452/550 (at RCPT) or
451/552/554 (at the end of DATA), drops the connection after the message's content but
before its reply (the moment where a sender cannot know whether the mail arrived), or
stalls past the sender's timeout and then drops it. A transaction it faults is never
recorded as received, so any message it holds twice was sent twice by Misiva. `vanish()`
and `come_back()` close and reopen its listener on the same port.

The webhook receiver answers 500 at random, answers slowly, or answers too slowly (after the
sender gave up: the post counts as received, so the retry is a duplicate it must tolerate),
and can go down and come back on the same port.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import Counter
from typing import Any, Self

from misiva.testing.smtp_sink import SmtpSink
from misiva.testing.smtp_sink import _Controller as _SinkController
from misiva.testing.smtp_sink import _Handler as _SinkHandler
from misiva.testing.webhook_receiver import ReceivedPost, ReceiverServer, WebhookReceiver

RCPT_FAULTS = (
    "421 4.7.0 too many connections, closing",
    "451 4.3.0 temporary local problem",
    "452 4.2.2 mailbox full, try later",
    "550 5.1.1 no such user",
)
DATA_FAULTS = (
    "451 4.3.0 temporary local problem",
    "552 5.3.4 message too big for this mailbox",
    "554 5.7.1 message refused",
    "drop",
    "stall",
)


class FaultySmtpSink(SmtpSink):
    """An SmtpSink that faults `rate` of RCPT commands and of DATA replies, seeded."""

    def __init__(self, seed: int, rate: float = 0.2, stall_seconds: float = 2.0) -> None:
        super().__init__()
        self._random = random.Random(seed)
        self.rate = rate
        self.stall_seconds = stall_seconds
        # What was injected, by reply code or "drop" / "stall".
        self.faults: Counter[str] = Counter()
        self.vanished = 0

    def start(self) -> Self:
        """As SmtpSink.start, with the faulting handler; on the same port once it had one."""
        if self._controller is not None:
            raise RuntimeError("the sink is already running")
        port = self.port or _free_port()
        controller = _SinkController(
            self, _FaultyHandler(self), hostname=self.host, port=port, **self._smtp_kwargs()
        )
        controller.start()
        self._controller, self.port = controller, port
        return self

    def heal(self) -> None:
        """No more faults: the receiver has recovered."""
        self.rate = 0.0

    def vanish(self) -> None:
        """Close every connection and the listener: connections are refused until come_back()."""
        self.vanished += 1
        self.stop()

    def come_back(self) -> None:
        self.start()

    def pick(self, faults: tuple[str, ...]) -> str | None:
        with self._cond:
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice(faults)
            self.faults[fault.split(" ")[0]] += 1
            return fault

    @property
    def injected(self) -> int:
        with self._cond:
            return sum(self.faults.values())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _FaultyHandler(_SinkHandler):
    def __init__(self, sink: FaultySmtpSink) -> None:
        super().__init__(sink)
        self._faulty = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        fault = self._faulty.pick(RCPT_FAULTS)
        if fault is None:
            line: str = await super().handle_RCPT(server, session, envelope, address, options)
            return line
        if fault.startswith("421"):
            # RFC 5321 §3.8: a server that answers 421 closes the connection right after.
            server.loop.call_soon(server.transport.close)
        return fault

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._faulty.pick(DATA_FAULTS)
        if fault is None:
            line: str = await super().handle_DATA(server, session, envelope)
            return line
        if fault in ("drop", "stall"):
            if fault == "stall":
                await asyncio.sleep(self._faulty.stall_seconds)
            # The content arrived, the reply never does: nothing is recorded as received.
            server.transport.abort()
            return "451 4.3.0 connection lost"  # written to a closed transport: never seen
        return fault


class FaultyWebhookReceiver(WebhookReceiver):
    """A WebhookReceiver answering 500, slowly, or too slowly for `rate` of posts, seeded."""

    def __init__(
        self,
        seed: int,
        rate: float = 0.2,
        slow: float = 0.3,
        too_slow: float = 2.0,
        *,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        # Listen again with a deeper backlog: the dispatcher posts a whole batch (up to 100)
        # at once, and the standard library's backlog of 5 drops the SYNs beyond it, which
        # a short client timeout then reports as ConnectTimeout, a fault nobody injected.
        self._address = self._server.server_address[:2]
        handler = self._server.RequestHandlerClass
        self._server.server_close()
        self._server = ReceiverServer(self._address, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._random = random.Random(seed)
        # Before every answer, faulty or not: posts stay in flight (the drain tests).
        self.delay = delay
        self.rate = rate
        self.slow = slow
        self.too_slow = too_slow
        self.faults: Counter[str] = Counter()
        self.downs = 0
        self._in_progress = 0

    def heal(self) -> None:
        self.rate = 0.0

    @property
    def in_progress(self) -> int:
        """Posts being answered right now."""
        with self._lock:
            return self._in_progress

    def _take(self, post: ReceivedPost) -> int:
        with self._lock:
            self._in_progress += 1
        try:
            return self._answer(post)
        finally:
            with self._lock:
                self._in_progress -= 1

    def _answer(self, post: ReceivedPost) -> int:
        with self._lock:
            fault = None
            if self._random.random() < self.rate:
                fault = self._random.choice(("500", "slow", "too_slow"))
                self.faults[fault] += 1
        if self.delay > 0:
            time.sleep(self.delay)
        if fault == "500":
            with self._lock:
                self.refused += 1
            return 500
        if fault in ("slow", "too_slow"):
            # In this handler's own thread (ThreadingHTTPServer): other posts go on meanwhile.
            time.sleep(self.slow if fault == "slow" else self.too_slow)
        return super()._take(post)

    def go_down(self) -> None:
        """Stop listening: posts are refused (connection refused) until come_back()."""
        self.downs += 1
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def come_back(self) -> None:
        handler = self._server.RequestHandlerClass
        self._server = ReceiverServer(self._address, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def duplicates(self) -> int:
        """Posts accepted more than once (the same webhook-id)."""
        with self._lock:
            ids = Counter(p.headers.get("webhook-id") for p in self.accepted)
        return sum(n - 1 for n in ids.values())
