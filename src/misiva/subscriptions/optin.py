"""Double opt-in: a request stores a pending subscription and mails a signed, expiring link;
following it confirms, with the proof of who asked, when, from where and what they were sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.records import Server, Stream
from misiva.domain.subscriptions import (
    ChangeVia,
    ConsentAction,
    ConsentRecord,
    Requester,
    Subscription,
    SubscriptionStatus,
)
from misiva.events.subscriptions import SubscriptionChange, record_subscription_change
from misiva.mail.addresses import parse_single_address
from misiva.mail.mime import extract_bodies
from misiva.storage import Database
from misiva.storage import messages as message_store
from misiva.storage import streams as stream_store
from misiva.storage import subscriptions as subscription_store
from misiva.subscriptions.links import open_link
from misiva.subscriptions.notices import NoticeSender, notice_fields
from misiva.subscriptions.views import EXPIRED, INVALID, LinkState, LinkView
from misiva.tracking.consent_tokens import ConsentLinks, LinkPurpose

log = logging.getLogger(__name__)
# Within this time of a request, asking again for the same address and stream sends nothing.
REPEAT_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class OptInRequest:
    """What an app passes on from its sign-up form."""

    email: str
    stream: str
    source: str | None = None
    requester: Requester = field(default_factory=Requester)
    locale: str | None = None
    # The From of the confirmation email when the stream names none.
    sender: str | None = None


class OptIn:
    def __init__(
        self, db: Database, links: ConsentLinks, notices: NoticeSender, *, clock: Clock = utcnow
    ) -> None:
        self._db = db
        self._links = links
        self._notices = notices
        self._clock = clock

    async def request(
        self, server: Server, wanted: OptInRequest, *, resend: bool = False
    ) -> Subscription:
        """Store the pending subscription and send its confirmation email; an address already
        confirmed gets no email. `resend` sends a new link for a pending request only."""
        email = parse_single_address("Email", wanted.email).email.lower()
        now = self._clock()
        async with self._db.transaction() as tx:
            found = await stream_store.get_stream(tx, server.id, wanted.stream)
            stream = _opt_in_stream(found)
            current = await subscription_store.get_subscription(
                tx, server.id, stream.stream_id, email
            )
            if current is not None and current.status is SubscriptionStatus.CONFIRMED:
                return current
            if not resend and current is not None and _just_asked(current, now):
                # A double-clicked sign-up button, or a form submitted in a loop, mails the
                # person once; an explicit resend still sends at once.
                return current
            if resend and (current is None or current.status is not SubscriptionStatus.PENDING):
                raise InvalidRequest(
                    f"There is no pending subscription of {email} to '{stream.stream_id}' to "
                    "send again."
                )
            expires = now + timedelta(hours=stream.subscriptions.opt_in_ttl_hours)
            pending = Subscription(
                server_id=server.id,
                stream=stream.stream_id,
                email=email,
                status=SubscriptionStatus.PENDING,
                source=(current.source if resend and current else wanted.source),
                created_at=current.created_at if current else now,
                updated_at=now,
                requested_at=now,
                confirmed_at=current.confirmed_at if current else None,
                unsubscribed_at=current.unsubscribed_at if current else None,
                expires_at=expires,
            )
            await subscription_store.save_subscription(tx, pending)
            await subscription_store.insert_consent(
                tx, _record(pending, ConsentAction.REQUESTED, wanted.requester, now)
            )
        message_id = await self._send_confirmation(server, stream, pending, wanted)
        return await self._remember_sent(pending, message_id)

    async def list(
        self,
        server_id: int,
        stream: str,
        status: SubscriptionStatus | None,
        *,
        limit: int,
        offset: int,
    ) -> tuple[int, list[Subscription]]:
        async with self._db.reading() as tx:
            return await subscription_store.list_for_stream(
                tx, server_id, stream, status=status, limit=limit, offset=offset
            )

    async def confirm(self, value: str, requester: Requester) -> LinkView:
        """The confirmation link, followed: a pending request within its deadline becomes a
        confirmed subscription; anything else changes nothing."""
        now = self._clock()
        async with self._db.transaction() as tx:
            opened = await open_link(tx, value, LinkPurpose.CONFIRM)
            if opened is None or opened.stream is None:
                return INVALID
            token, stream = opened.token, opened.stream
            # The expired page wears the sender's brand and speaks the person's language.
            expired = replace(
                EXPIRED, server=opened.server, locale=opened.locale, email=token.email
            )
            if token.expired(now):
                return expired
            current = await subscription_store.get_subscription(
                tx, opened.server.id, stream.stream_id, token.email
            )
            if _confirmable(current, now) is LinkState.EXPIRED or current is None:
                return expired
            already = current.status is SubscriptionStatus.CONFIRMED
            if not already:
                change = SubscriptionChange(
                    server_id=opened.server.id,
                    stream=stream.stream_id,
                    email=token.email,
                    subscribed=True,
                    at=now,
                    requester=replace(requester, via=ChangeVia.CONFIRMATION_LINK),
                    message_id=current.confirmation_message_id,
                )
                await record_subscription_change(tx, change)
        preferences = self._links.preferences(opened.server.id, opened.server.secret, token.email)
        if not already:
            await self._welcome(opened.server, stream, token.email, preferences, opened.locale)
        return LinkView(
            state=LinkState.OK,
            server=opened.server,
            locale=opened.locale,
            email=token.email,
            stream=stream,
            preferences_url=preferences,
            already=already,
        )

    async def _send_confirmation(
        self, server: Server, stream: Stream, pending: Subscription, wanted: OptInRequest
    ) -> str:
        assert pending.expires_at is not None and stream.subscriptions.opt_in_template
        url = self._links.confirm(
            server.id, server.secret, stream.stream_id, pending.email, pending.expires_at
        )
        model = {
            "confirm_url": url,
            "expires_in_hours": stream.subscriptions.opt_in_ttl_hours,
            "stream_description": stream.description or "",
        }
        fields = notice_fields(
            stream,
            stream.subscriptions.opt_in_template,
            pending.email,
            model,
            fallback_from=wanted.sender,
            locale=wanted.locale,
        )
        if fields is None:
            raise InvalidRequest(
                f"The stream '{stream.stream_id}' has no From for its confirmation email: set "
                "Subscriptions.From on the stream, or give From in the request."
            )
        result = await self._notices.send_notice(server.id, fields)
        if result.error_code:
            raise MisivaError(result.message, result.error_code)
        return result.message_id

    async def _remember_sent(self, pending: Subscription, message_id: str) -> Subscription:
        """Keep what the person was sent: the consent proof quotes the email's text."""
        now = self._clock()
        async with self._db.transaction() as tx:
            message = await message_store.get_message(tx, message_id)
            text = extract_bodies(message.mime)[0] if message and message.mime else None
            sent = replace(pending, confirmation_message_id=message_id, updated_at=now)
            await subscription_store.save_subscription(tx, sent)
            record = _record(sent, ConsentAction.CONFIRMATION_SENT, Requester(), now)
            await subscription_store.insert_consent(
                tx,
                replace(
                    record,
                    message_id=message_id,
                    template_id=message.template_id if message else None,
                    template_version=message.template_version if message else None,
                    evidence=f"Subject: {message.subject}\n\n{text or ''}" if message else None,
                ),
            )
        return sent

    async def _welcome(
        self, server: Server, stream: Stream, email: str, preferences: str, locale: str
    ) -> None:
        template = stream.subscriptions.welcome_template
        if not template:
            return
        unsubscribe = self._links.unsubscribe(server.id, server.secret, stream.stream_id, email)
        model = {"preferences_url": preferences, "unsubscribe_url": unsubscribe}
        fields = notice_fields(stream, template, email, model)
        if fields is None:
            log.warning("no From for the welcome email on stream %s", stream.stream_id)
            return
        result = await self._notices.send_notice(server.id, fields)
        if result.error_code:
            log.warning("welcome email not sent: %s", result.message)


def _opt_in_stream(stream: Stream | None) -> Stream:
    if stream is None or stream.archived_at is not None:
        raise NotFound(
            "The 'MessageStream' provided does not exist on this server.",
            ErrorCode.STREAM_NOT_FOUND,
        )
    if not stream.subscriptions.opt_in_template:
        raise InvalidRequest(
            f"The stream '{stream.stream_id}' has no confirmation template: set "
            "Subscriptions.ConfirmationTemplate on the stream."
        )
    return stream


def _just_asked(current: Subscription, now: datetime) -> bool:
    return (
        current.status is SubscriptionStatus.PENDING
        and current.requested_at is not None
        and now - current.requested_at < REPEAT_AFTER
    )


def _confirmable(current: Subscription | None, now: datetime) -> LinkState:
    """OK for a pending request within its deadline (or one confirmed already)."""
    if current is None:
        # Purged after its deadline, or never ours.
        return LinkState.EXPIRED
    if current.status is SubscriptionStatus.CONFIRMED:
        return LinkState.OK
    if current.status is SubscriptionStatus.UNSUBSCRIBED:
        # The person left after this link was sent: an old link must not bring them back.
        return LinkState.EXPIRED
    if current.expires_at is not None and now >= current.expires_at:
        return LinkState.EXPIRED
    return LinkState.OK


def _record(
    subscription: Subscription, action: ConsentAction, requester: Requester, now: datetime
) -> ConsentRecord:
    return ConsentRecord(
        server_id=subscription.server_id,
        stream=subscription.stream,
        email=subscription.email,
        action=action,
        at=now,
        ip=requester.ip,
        user_agent=(requester.user_agent or "")[:1024] or None,
        source=subscription.source,
    )
