"""The SMTP submission server: a plain port with STARTTLS, and an optional implicit-TLS port."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP

from misiva.domain.errors import SetupError
from misiva.domain.message import MAX_MESSAGE_BYTES
from misiva.smtp.handler import SubmissionHandler, is_loopback

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listener:
    host: str
    port: int
    # Implicit TLS (RFC 8314 §3): the connection is encrypted before the greeting.
    implicit_tls: bool = False


class _SubmissionSMTP(SMTP):
    """aiosmtpd's SMTP, with AUTH allowed before TLS on the implicit-TLS port (already
    encrypted) and, when configured, from loopback clients (a local app in development)."""

    def __init__(
        self, handler: Any, *, implicit_tls: bool, loopback_plaintext: bool, **kwargs: Any
    ) -> None:
        super().__init__(handler, auth_required=True, auth_require_tls=True, **kwargs)
        self._implicit_tls = implicit_tls
        self._loopback_plaintext = loopback_plaintext

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self._implicit_tls or (self._loopback_plaintext and is_loopback(host)):
            self._auth_require_tls = False


class SubmissionServer:
    """Runs in the serve process's event loop, like the bounce receiver."""

    def __init__(
        self,
        handler: SubmissionHandler,
        listeners: list[Listener],
        *,
        hostname: str,
        tls_context: ssl.SSLContext | None,
        loopback_plaintext: bool,
    ) -> None:
        if any(listener.implicit_tls for listener in listeners) and tls_context is None:
            raise SetupError("MISIVA_SMTPS_ADDR needs MISIVA_SMTP_TLS_CERT and MISIVA_SMTP_TLS_KEY")
        self._handler = handler
        self._listeners = listeners
        self._hostname = hostname
        self._tls = tls_context
        self._loopback_plaintext = loopback_plaintext

    def _protocol(self, implicit_tls: bool) -> SMTP:
        return _SubmissionSMTP(
            self._handler,
            implicit_tls=implicit_tls,
            loopback_plaintext=self._loopback_plaintext,
            hostname=self._hostname,
            # Announced in EHLO (RFC 1870) and enforced: Postmark's 10 MB per message.
            data_size_limit=MAX_MESSAGE_BYTES,
            decode_data=False,
            enable_SMTPUTF8=True,
            # STARTTLS is offered on the plain port; the implicit port is TLS already.
            tls_context=None if implicit_tls else self._tls,
        )

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        servers = []
        try:
            for listener in self._listeners:
                servers.append(
                    await loop.create_server(
                        lambda implicit=listener.implicit_tls: self._protocol(implicit),
                        host=listener.host,
                        port=listener.port,
                        ssl=self._tls if listener.implicit_tls else None,
                    )
                )
                kind = (
                    "implicit TLS"
                    if listener.implicit_tls
                    else "STARTTLS"
                    if self._tls
                    else "plain"
                )
                log.info("SMTP submission on %s:%d (%s)", listener.host, listener.port, kind)
        except OSError as error:
            raise SetupError(f"cannot listen for SMTP submission: {error.strerror}") from None
        try:
            await stop.wait()
        finally:
            for server in servers:
                server.close()
                await server.wait_closed()


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The server's TLS context from PEM files; None when neither is set."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise SetupError("set both MISIVA_SMTP_TLS_CERT and MISIVA_SMTP_TLS_KEY")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise SetupError(f"cannot load the SMTP certificate {cert}: {error}") from None
    return context
