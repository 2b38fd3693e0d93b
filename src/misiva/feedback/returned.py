"""Mail that came back (DSN, complaint, auto-reply): tie it to its message, record events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import parseaddr

from misiva.bounces import (
    message_id_from_header,
    parse_feedback_all,
    unsubscribe_message_id,
    verp_message_id,
)
from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport
from misiva.domain.clock import Clock, utcnow
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.domain.records import StoredMessage
from misiva.events.record import record_events
from misiva.feedback.dmarc import DmarcReports
from misiva.storage import Database
from misiva.storage import messages as message_store

_EVENT = {
    FeedbackKind.BOUNCE: EventType.BOUNCED,
    FeedbackKind.DELAY: EventType.BOUNCED,
    FeedbackKind.COMPLAINT: EventType.COMPLAINED,
    FeedbackKind.AUTO_REPLY: EventType.AUTO_REPLIED,
}


@dataclass(frozen=True, slots=True)
class Handled:
    message_id: str | None
    recorded: int
    kinds: tuple[str, ...]


# Mail to a List-Unsubscribe mailto: the message id in the address, and who wrote.
OnUnsubscribe = Callable[[str, str], Awaitable[bool]]

# Where DMARC aggregate reports come (`rua=mailto:dmarc@BOUNCE_DOMAIN` in a domain's record).
DMARC_LOCAL_PART = "dmarc"
# RFC 7489 §7.2.1.1: a report's Subject starts so; reports sent to a VERP address are found too.
_REPORT_SUBJECT = "report domain:"


class ReturnedMail:
    def __init__(
        self,
        db: Database,
        bounce_domain: str,
        *,
        clock: Clock = utcnow,
        on_unsubscribe: OnUnsubscribe | None = None,
        dmarc: DmarcReports | None = None,
    ) -> None:
        self._db = db
        self._domain = bounce_domain
        self._clock = clock
        self._on_unsubscribe = on_unsubscribe
        self._dmarc = dmarc

    def accepts(self, rcpt: str) -> bool:
        """Only our VERP and unsubscribe addresses: the receiver is no open relay and no inbox."""
        if verp_message_id(rcpt, self._domain) is not None:
            return True
        if self._dmarc is not None and self._is_dmarc_address(rcpt):
            return True
        return (
            self._on_unsubscribe is not None
            and unsubscribe_message_id(rcpt, self._domain) is not None
        )

    async def handle(self, raw: bytes, rcpts: list[str]) -> Handled:
        """Record what the returned message reports; raises only if it cannot be stored."""
        unsubscribing = [m for r in rcpts if (m := unsubscribe_message_id(r, self._domain))]
        if unsubscribing and self._on_unsubscribe is not None:
            return await self._unsubscribe(raw, unsubscribing)
        if self._dmarc is not None and (
            any(self._is_dmarc_address(r) for r in rcpts) or _subject_says_report(raw)
        ):
            return await self._dmarc_reports(self._dmarc, raw)
        reports = parse_feedback_all(raw)
        message_id = next((m for r in rcpts if (m := verp_message_id(r, self._domain))), None)
        if message_id is None:
            message_id = next(
                (
                    m
                    for r in reports
                    if r.original_message_id
                    and (m := message_id_from_header(r.original_message_id))
                ),
                None,
            )
        if message_id is None:
            return Handled(None, 0, tuple(r.kind.value for r in reports))
        async with self._db.transaction() as tx:
            message = await message_store.get_message(tx, message_id)
            if message is None:
                return Handled(message_id, 0, tuple(r.kind.value for r in reports))
            events = [e for r in reports for e in self._events(r, message)]
            await record_events(tx, events, dumps=dict.fromkeys(range(len(events)), raw))
        return Handled(message_id, len(events), tuple(r.kind.value for r in reports))

    async def _unsubscribe(self, raw: bytes, message_ids: list[str]) -> Handled:
        """RFC 8058 §3.2's mailto: whatever the mail says, writing to it unsubscribes."""
        assert self._on_unsubscribe is not None
        sender = parseaddr(message_from_bytes(raw).get("From", ""))[1]
        done = 0
        for message_id in message_ids:
            done += await self._on_unsubscribe(message_id, sender)
        return Handled(message_ids[0], done, ("unsubscribe",))

    def _is_dmarc_address(self, rcpt: str) -> bool:
        return rcpt.strip("<> ").lower() == f"{DMARC_LOCAL_PART}@{self._domain}".lower()

    async def _dmarc_reports(self, dmarc: DmarcReports, raw: bytes) -> Handled:
        """Aggregate reports (RFC 7489 §7.2): kept per server; one that cannot be read is
        logged by the receiver, not bounced: the reporter would only resend it."""
        mailed = await dmarc.from_mail(raw)
        kinds = ("dmarc-report", *(f"refused {why}" for why in mailed.refused))
        return Handled(None, sum(i.new for i in mailed.ingested), kinds)

    def _events(self, report: FeedbackReport, message: StoredMessage) -> list[EventRecord]:
        kind = _EVENT.get(report.kind)
        if kind is None:
            return []
        ours = {r.lower() for r in message.rcpt_state}
        recipients = [r for r in report.recipients if r.lower() in ours]
        if not recipients and len(ours) == 1:
            # The VERP address names the message; with one recipient, it is that one.
            recipients = list(ours)
        bounce_type = report.bounce_type or (
            BounceType.TRANSIENT if report.kind is FeedbackKind.DELAY else BounceType.UNKNOWN
        )
        return [
            EventRecord(
                message_id=message.id,
                server_id=message.server_id,
                type=kind,
                recipient=recipient,
                at=self._clock(),
                details={
                    "bounce_type": bounce_type.value,
                    "diagnostic": report.diagnostic,
                    "status": report.status,
                    "remote_mta": report.remote_mta,
                    "source": "returned mail",
                },
            )
            for recipient in recipients
        ]


def _subject_says_report(raw: bytes) -> bool:
    # Only the header block is read: the body may be megabytes of compressed report.
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    subject = message_from_bytes(head).get("Subject", "")
    return str(subject).strip().lower().startswith(_REPORT_SUBJECT)
