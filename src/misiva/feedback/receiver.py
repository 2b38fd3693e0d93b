"""The bounce receiver: an SMTP server for the bounce domain that takes back returned mail."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP

from misiva.domain.errors import MisivaError
from misiva.feedback.returned import ReturnedMail

log = logging.getLogger(__name__)

# RFC 5321 §4.2: 250 only once stored; 451 makes the sending MTA try again later.
ACCEPTED = "250 2.0.0 OK: recorded"
NOT_OURS = "550 5.1.1 not a bounce address of this server"
TRY_LATER = "451 4.3.0 cannot record this now; try again later"
MAX_SIZE = 10 * 1024 * 1024


class _LenientSMTP(SMTP):
    # Returned mail quotes whatever was returned, and old MTAs and report generators break
    # RFC 5321's 1,000-octet line limit; losing a bounce over it would be worse.
    line_length_limit = 64 * 1024


class _Handler:
    def __init__(self, returned: ReturnedMail) -> None:
        self._returned = returned

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not self._returned.accepts(address):
            return NOT_OURS
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            handled = await self._returned.handle(envelope.original_content, envelope.rcpt_tos)
        except MisivaError as error:
            log.error("returned mail not recorded: %s", error.message)
            return TRY_LATER
        log.info("returned mail for %s: %s", handled.message_id, ", ".join(handled.kinds))
        return ACCEPTED


class BounceReceiver:
    """Listens on MISIVA_BOUNCE_ADDR; runs in the serve process's event loop."""

    def __init__(self, returned: ReturnedMail, host: str, port: int, hostname: str) -> None:
        self._handler = _Handler(returned)
        self._host, self._port, self._hostname = host, port, hostname

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _LenientSMTP(
                self._handler,
                hostname=self._hostname,
                data_size_limit=MAX_SIZE,
                decode_data=False,
                enable_SMTPUTF8=True,
            ),
            host=self._host,
            port=self._port,
        )
        log.info("bounce receiver listening on %s:%d", self._host, self._port)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
