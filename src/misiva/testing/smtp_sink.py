"""A real SMTP server for tests and benchmarks: aiosmtpd in a thread, with scripted replies."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import ssl
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from misiva.testing.replies import Reply, ReplyScript, reply_line
from misiva.testing.tls import self_signed_context

__all__ = ["ReceivedMessage", "Reply", "SmtpSink", "main", "reply_line", "self_signed_context"]

# Postmark accepts messages up to 50 MB including attachments; base64 grows that by a third.
DATA_SIZE_LIMIT = 60 * 1024 * 1024
SERVER_NAME = "sink.misiva.test"


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One transaction the sink accepted with a 2xx reply to DATA."""

    mail_from: str  # "" for the null reverse-path `MAIL FROM:<>` (RFC 5321 §4.5.5)
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    peer: tuple[str, int]
    tls: bool
    auth_user: str | None
    session: int
    received_monotonic: float
    received_at: datetime


class SmtpSink:
    """An SMTP server on a free local port that records what it accepts and answers as scripted."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
        count_only: bool = False,
        idle_timeout: float = 300.0,
    ) -> None:
        self.host = host
        self.port = port
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        self._credentials = credentials
        self._count_only = count_only
        self._idle_timeout = idle_timeout
        self._cond = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._count = 0
        self._sessions = 0
        self._span: tuple[float, float] | None = None
        self._servers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._mail_script: ReplyScript | None = None
        self._data_script: ReplyScript | None = None
        self._rcpt_scripts: dict[str, ReplyScript] = {}
        self._domain_scripts: dict[str, ReplyScript] = {}
        self._rcpt_counts: dict[str, int] = {}
        self._delay = 0.0
        self._message_delay = 0.0
        self._in_data = 0
        self._peak_in_data = 0
        self._controller: Any = None

    def start(self) -> Self:
        """Bind (picking a free port when port is 0) and serve in a background thread."""
        if self._controller is not None:
            raise RuntimeError("the sink is already running")
        port = self.port or _free_port(self.host)
        controller = _Controller(
            self, _Handler(self), hostname=self.host, port=port, **self._smtp_kwargs()
        )
        controller.start()
        self._controller, self.port = controller, port
        with self._cond:
            # Controller.start() opens one probe connection of its own: not a client's session.
            self._sessions = 0
        return self

    def stop(self) -> None:
        """Close every client connection, then the listener and its thread."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        self._close_connections(controller, abort=True)
        controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _smtp_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "data_size_limit": DATA_SIZE_LIMIT,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            # A fixed name: aiosmtpd would otherwise call socket.getfqdn() per connection.
            "server_hostname": SERVER_NAME,
            "timeout": self._idle_timeout,
            "require_starttls": False,
        }
        # TLS from the first byte (RFC 8314 §3) is the listener's; STARTTLS is the session's.
        kwargs["ssl_context" if self._implicit_tls else "tls_context"] = self._tls_context
        if self._credentials is not None:
            # AUTH offered without TLS so plain-text tests can log in; never required.
            kwargs["auth_require_tls"] = False
            kwargs["auth_callback"] = self._check_login
        return kwargs

    def _check_login(self, mechanism: str, login: bytes, password: bytes) -> bool:
        assert self._credentials is not None
        user, secret = self._credentials
        return login.decode() == user and password.decode() == secret

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the accepted messages, oldest first (empty in count-only mode)."""
        with self._cond:
            return list(self._messages)

    @property
    def count(self) -> int:
        """How many messages were accepted, also in count-only mode."""
        with self._cond:
            return self._count

    @property
    def sessions(self) -> int:
        """How many client connections were opened since start (or `clear()`)."""
        with self._cond:
            return self._sessions

    @property
    def first_and_last(self) -> tuple[float, float] | None:
        """Monotonic times of the first and the last accepted message, for throughput."""
        with self._cond:
            return self._span

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least `count` messages were accepted; False if `timeout` ran out."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count >= count, timeout)

    def clear(self) -> None:
        """Forget messages, counters and scripts, keeping the server and its connections."""
        with self._cond:
            self._messages.clear()
            self._count = self._sessions = 0
            self._span = None
            self._mail_script = self._data_script = None
            self._rcpt_scripts.clear()
            self._domain_scripts.clear()
            self._rcpt_counts.clear()
            self._delay = 0.0

    def script_rcpt(self, address: str, *replies: Reply) -> None:
        """Answer RCPT TO for `address` with these replies, one per attempt, the last repeating."""
        with self._cond:
            self._rcpt_scripts[address.lower()] = ReplyScript(replies)

    def script_domain(self, domain: str, *replies: Reply) -> None:
        """Answer RCPT TO for every address at `domain` with these replies, the last
        repeating (as a provider that throttles us does); an address's own script wins."""
        with self._cond:
            self._domain_scripts[domain.lower()] = ReplyScript(replies)

    def rcpt_count(self, domain: str) -> int:
        """How many RCPT TO commands named an address at `domain`, whatever the reply."""
        with self._cond:
            return self._rcpt_counts.get(domain.lower(), 0)

    def script_mail(self, *replies: Reply) -> None:
        """Answer MAIL FROM with these replies, one per transaction, the last repeating."""
        with self._cond:
            self._mail_script = ReplyScript(replies)

    def script_data(self, *replies: Reply) -> None:
        """Answer the end of DATA with these replies, one per transaction, the last repeating."""
        with self._cond:
            self._data_script = ReplyScript(replies)

    def delay(self, seconds: float) -> None:
        """Wait this long before every reply to EHLO, MAIL, RCPT, DATA, RSET and NOOP."""
        self._delay = seconds

    def delay_messages(self, seconds: float) -> None:
        """Wait this long before accepting each message's content: a remote MX's time per
        transaction (spam and virus scanning, its own fsync), as the sender meets it."""
        self._message_delay = seconds

    @property
    def peak_transactions(self) -> int:
        """The most messages that were being accepted at one moment (connections in use)."""
        with self._cond:
            return self._peak_in_data

    def drop_connections(self) -> None:
        """Close every open client connection, as a server does with idle ones."""
        if self._controller is not None:
            self._close_connections(self._controller, abort=False)

    def _opened(self, server: Any) -> None:
        with self._cond:
            self._sessions += 1
            self._servers[server] = self._sessions

    async def _pause_message(self) -> None:
        with self._cond:
            self._in_data += 1
            self._peak_in_data = max(self._peak_in_data, self._in_data)
        try:
            if self._message_delay > 0:
                await asyncio.sleep(self._message_delay)
        finally:
            with self._cond:
                self._in_data -= 1

    async def _pause(self) -> None:
        if self._delay > 0:
            await asyncio.sleep(self._delay)

    def _next_line(self, command: str, address: str = "") -> str:
        with self._cond:
            domain = address.rpartition("@")[2].lower()
            if command == "RCPT":
                self._rcpt_counts[domain] = self._rcpt_counts.get(domain, 0) + 1
            script = {
                "MAIL": self._mail_script,
                "RCPT": self._rcpt_scripts.get(address.lower()) or self._domain_scripts.get(domain),
                "DATA": self._data_script,
            }[command]
            return "250 2.0.0 OK" if script is None else script.next_line()

    def _record(self, server: Any, session: Any, envelope: Any) -> None:
        now = time.monotonic()
        message = None
        if not self._count_only:
            message = ReceivedMessage(
                mail_from="" if envelope.mail_from == "<>" else envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=envelope.original_content,
                mail_options=tuple(envelope.mail_options),
                peer=(session.peer[0], session.peer[1]),
                tls=server.transport.get_extra_info("sslcontext") is not None,
                auth_user=_auth_user(session),
                session=self._servers.get(server, 0),
                received_monotonic=now,
                received_at=datetime.now(UTC),
            )
        with self._cond:
            self._count += 1
            self._span = (now if self._span is None else self._span[0], now)
            if message is not None:
                self._messages.append(message)
            self._cond.notify_all()

    def _close_connections(self, controller: Any, *, abort: bool) -> None:
        with self._cond:
            servers = list(self._servers.keys())
        done = threading.Event()

        def close_all() -> None:
            for server in servers:
                transport = server.transport
                if transport is not None:
                    transport.abort() if abort else transport.close()
            done.set()

        controller.loop.call_soon_threadsafe(close_all)
        done.wait(5.0)


def _auth_user(session: Any) -> str | None:
    data = session.auth_data
    login = getattr(data, "login", None)
    return login.decode() if isinstance(login, bytes) else None


def _free_port(host: str) -> int:
    # aiosmtpd's Controller needs a concrete port: ask the kernel for one and release it.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _accepted(line: str) -> bool:
    return line.startswith("2")


def _respond(server: Any, line: str) -> str:
    # RFC 5321 §3.8: a server that answers 421 closes the connection right after.
    if line.startswith("421"):
        server.loop.call_soon(server.transport.close)
    return line


class _Handler:
    """aiosmtpd's hooks, each asking the sink for the reply it should give."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        await self._sink._pause()
        session.host_name = hostname  # aiosmtpd leaves this to an EHLO hook when one exists
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._sink._pause()
        line = self._sink._next_line("MAIL")
        if _accepted(line):
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return _respond(server, line)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._sink._pause()
        line = self._sink._next_line("RCPT", address)
        if _accepted(line):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return _respond(server, line)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self._sink._pause()
        await self._sink._pause_message()
        line = self._sink._next_line("DATA")
        if _accepted(line):
            self._sink._record(server, session, envelope)
        return _respond(server, line)

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        await self._sink._pause()
        return "250 2.0.0 OK"

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        await self._sink._pause()
        return "250 2.0.0 OK"


class _Controller(Controller):
    """aiosmtpd's threaded controller, telling the sink about every connection it accepts."""

    def __init__(self, sink: SmtpSink, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sink = sink

    def factory(self) -> Any:
        server = SMTP(self.handler, **self.SMTP_kwargs)
        self._sink._opened(server)
        return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until `--expect` messages arrived, a signal, or `--max-seconds`; print counts."""
    parser = argparse.ArgumentParser(prog="python -m misiva.testing.smtp_sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count-only", action="store_true", help="keep no message bodies")
    parser.add_argument("--expect", type=int, default=0, help="exit once this many arrived")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--message-delay", type=float, default=0.0, help="seconds before accepting each message"
    )
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SmtpSink(args.host, args.port, count_only=args.count_only) as sink:
        sink.delay(args.delay)
        sink.delay_messages(args.message_delay)
        print(f"listening {sink.address}", flush=True)
        _serve(sink, stop, args.expect, time.monotonic() + args.max_seconds)
        span = sink.first_and_last
        seconds = 0.0 if span is None else span[1] - span[0]
        print(
            f"received {sink.count} sessions {sink.sessions} span {seconds:.3f}s"
            f" peak {sink.peak_transactions}",
            flush=True,
        )
    return 0


def _serve(sink: SmtpSink, stop: threading.Event, expect: int, deadline: float) -> None:
    # Progress at most once a second: printing per message would slow the benchmark it serves.
    reported = -1
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if expect and sink.wait_for(expect, timeout=min(1.0, remaining)):
            return
        if not expect:
            stop.wait(min(1.0, remaining))
        if sink.count != reported:
            reported = sink.count
            print(f"received {reported}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
