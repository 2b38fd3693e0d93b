"""Email a server's owners and developers when alerts open: through the ingest path every
send takes, on the server's transactional stream, from the configured system sender; or,
with no sender configured (or one the server may not send as), into the capture inbox, where
the UI and `misiva inbox list` show it."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from misiva.domain.alerts import Alert
from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode, StreamType
from misiva.domain.ids import new_message_id
from misiva.domain.message import SendFields, SendResult
from misiva.domain.records import CapturedMessage
from misiva.storage import Database
from misiva.storage import alerts as alert_store
from misiva.storage import capture as capture_store
from misiva.storage import servers as server_store
from misiva.storage import streams as stream_store

log = logging.getLogger(__name__)
TAG = "misiva-alert"
# Who a captured alert is from when no system sender is configured (never sent anywhere).
CAPTURE_FROM = "alerts@misiva.invalid"


class NoticeSender(Protocol):
    """The ingest path (the runtime hands over the Ingestor)."""

    async def send_notice(self, server_id: int, fields: SendFields) -> SendResult: ...


class AlertMail:
    def __init__(
        self,
        db: Database,
        *,
        sender: NoticeSender | None,
        from_address: str | None,
        ui_base: str,
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self._sender = sender
        self._from = from_address
        self._ui_base = ui_base.rstrip("/")
        self._clock = clock

    async def notify(self, server_id: int, opened: list[Alert]) -> None:
        async with self._db.reading() as tx:
            server = await server_store.get_server(tx, server_id)
            people = await alert_store.alert_recipients(tx, server_id)
            streams = await stream_store.list_streams(tx, server_id, archived=False)
        if server is None or not people or not opened:
            return
        to = [email for email, _locale in people]
        subject = f"[Misiva] {server.name}: {_count(opened)} opened"
        body = self._body(server.name, server_id, opened)
        stream = next(
            (s.stream_id for s in streams if s.stream_type is StreamType.TRANSACTIONAL),
            "outbound",
        )
        if self._from and self._sender is not None:
            fields = SendFields(
                from_=self._from,
                to=", ".join(to),
                subject=subject,
                text_body=body,
                message_stream=stream,
                tag=TAG,
                track_opens=False,
                track_links="None",
            )
            result = await self._sender.send_notice(server_id, fields)
            if result.error_code == ErrorCode.OK:
                return
            log.warning("alert email not sent (%s); kept in the capture inbox", result.message)
        await self._capture(server_id, to, subject, body)

    def _body(self, name: str, server_id: int, opened: list[Alert]) -> str:
        lines = [f"Sending health alerts on server {name}:", ""]
        lines += [f"* {alert.describe()}" for alert in opened]
        lines += [
            "",
            "Each stays open, and is not sent again, until the measure has been under its",
            "warning level for an hour (a promo pool's stock: until it is restocked).",
            f"See them all: {self._ui_base}/ui/servers/{server_id}/alerts",
        ]
        return "\n".join(lines) + "\n"

    async def _capture(self, server_id: int, to: list[str], subject: str, body: str) -> None:
        now = self._clock()
        message = EmailMessage()
        message["From"] = self._from or CAPTURE_FROM
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = formatdate(now.timestamp(), usegmt=True)
        message["Message-ID"] = make_msgid(domain="misiva.invalid")
        message["X-PM-Tag"] = TAG
        message.set_content(body)
        captured = CapturedMessage(
            id=0,
            message_id=new_message_id(),
            server_id=server_id,
            envelope_from=self._from or CAPTURE_FROM,
            recipients=to,
            mime=message.as_bytes(),
            created_at=now,
        )
        async with self._db.transaction() as tx:
            await capture_store.insert_captured(tx, [captured])


def _count(opened: list[Alert]) -> str:
    return "1 alert" if len(opened) == 1 else f"{len(opened)} alerts"
