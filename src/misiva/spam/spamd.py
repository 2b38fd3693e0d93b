"""The one door to spamd (SpamAssassin's daemon), through aiospamc: ping it, score a message.

Everything else in Misiva speaks `SpamScore`; swapping the client library touches this file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import aiospamc
from aiospamc.exceptions import ClientException, TimeoutException
from aiospamc.responses import ResponseException

from misiva.domain.content import SpamScore
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import ServiceUnavailable, SetupError
from misiva.spam.report import parse_rules

# A check of one message takes 0.1-0.2 s on a warm spamd (docs/deliverability-content.md);
# past this, spamd is stuck or overloaded and the caller is told so instead of waiting.
DEFAULT_TIMEOUT_SECONDS = 20.0
_FAILURES = (ClientException, ResponseException, TimeoutException, OSError)


class SpamdUnavailable(ServiceUnavailable):
    """spamd did not answer, or answered with an error."""

    error_code = ErrorCode.SPAM_CHECK_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class SpamdClient:
    """Where spamd listens: `host:port` over TCP, or the path of its Unix socket."""

    host: str = "127.0.0.1"
    port: int = 783
    socket_path: Path | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_addr(cls, addr: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> SpamdClient:
        """`host:port`, `[v6]:port` or `/path/to/socket` (MISIVA_SPAMD_ADDR)."""
        if addr.startswith("/"):
            return cls(socket_path=Path(addr), timeout_seconds=timeout_seconds)
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit():
            raise SetupError(f"MISIVA_SPAMD_ADDR {addr!r} is not host:port or a socket path")
        return cls(host.strip("[]"), int(port), timeout_seconds=timeout_seconds)

    @property
    def where(self) -> str:
        return str(self.socket_path) if self.socket_path else f"{self.host}:{self.port}"

    async def ping(self) -> None:
        """Return when spamd answers PONG; SpamdUnavailable otherwise."""
        try:
            await aiospamc.ping(**self._connection())
        except _FAILURES as error:
            raise self._unavailable(error) from error

    async def score(self, message: bytes) -> SpamScore:
        """SpamAssassin's score of a whole message (RFC 5322 bytes) and each rule that hit."""
        started = time.perf_counter()
        try:
            response = await aiospamc.report(message, **self._connection())
        except _FAILURES as error:
            raise self._unavailable(error) from error
        verdict = response.headers.spam
        if verdict is None:
            raise SpamdUnavailable(f"spamd at {self.where} answered without a Spam header")
        return SpamScore(
            score=float(verdict.score),
            rules=parse_rules(response.body.decode("utf-8", "replace")),
            spamd_threshold=float(verdict.threshold),
            seconds=time.perf_counter() - started,
        )

    def _connection(self) -> dict[str, object]:
        timeout = aiospamc.Timeout(total=self.timeout_seconds)
        if self.socket_path is not None:
            return {"socket_path": self.socket_path, "timeout": timeout}
        return {"host": self.host, "port": self.port, "timeout": timeout}

    def _unavailable(self, error: BaseException) -> SpamdUnavailable:
        detail = str(error) or type(error).__name__
        return SpamdUnavailable(f"spamd at {self.where} did not answer: {detail}")
