"""What a recipient does with their links: unsubscribe (one click, the page, or by mail) and
choose their topics in the preference centre."""

from __future__ import annotations

import logging
from dataclasses import replace

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import StreamType
from misiva.domain.records import Server, Stream
from misiva.domain.subscriptions import ChangeVia, Requester, SubscriptionStatus
from misiva.events.subscriptions import SubscriptionChange, record_subscription_change
from misiva.storage import Database, Tx
from misiva.storage import messages as message_store
from misiva.storage import streams as stream_store
from misiva.storage import subscriptions as subscription_store
from misiva.storage import suppressions as suppression_store
from misiva.subscriptions.links import Opened, open_link, opened_for
from misiva.subscriptions.notices import NoticeSender, notice_fields
from misiva.subscriptions.views import INVALID, LinkState, LinkView, TopicView
from misiva.tracking.consent_tokens import ConsentLinks, LinkPurpose

log = logging.getLogger(__name__)


class RecipientLinks:
    def __init__(
        self, db: Database, links: ConsentLinks, notices: NoticeSender, *, clock: Clock = utcnow
    ) -> None:
        self._db = db
        self._links = links
        self._notices = notices
        self._clock = clock

    async def view_unsubscribe(self, value: str) -> LinkView:
        """What the unsubscribe page shows before the person confirms; changes nothing."""
        async with self._db.reading() as tx:
            opened = await open_link(tx, value, LinkPurpose.UNSUBSCRIBE)
        if opened is None or opened.stream is None:
            return INVALID
        return self._view(opened, opened.stream)

    async def unsubscribe(self, value: str, requester: Requester) -> LinkView:
        """RFC 8058's one-click POST, or the page's button: the address leaves the stream."""
        async with self._db.transaction() as tx:
            opened = await open_link(tx, value, LinkPurpose.UNSUBSCRIBE)
            if opened is None or opened.stream is None:
                return INVALID
            token = opened.token
            changed, original_from = await self._leave(
                tx, opened.server, opened.stream, token.email, token.message_id, requester
            )
        if changed:
            await self._confirm_unsubscribe(opened, opened.stream, original_from)
        return replace(self._view(opened, opened.stream), already=not changed)

    async def unsubscribe_by_mail(self, message_id: str, sender: str) -> bool:
        """Mail to a message's List-Unsubscribe mailto: its recipient leaves its stream.

        The address is the message's own random id, so only someone who got the message can
        write to it; the one who leaves is the sender when they are a recipient, else the
        first recipient, for whom the message's links were made."""
        async with self._db.transaction() as tx:
            message = await message_store.get_message(tx, message_id)
            if message is None:
                return False
            recipients = [r.lower() for r in message.rcpt_state]
            email = sender.lower() if sender.lower() in recipients else recipients[0]
            stream = await stream_store.get_stream(tx, message.server_id, message.stream)
            opened = await opened_for(tx, message.server_id, stream, email)
            if stream is None or opened is None:
                return False
            changed, original_from = await self._leave(
                tx, opened.server, stream, email, message_id, Requester(via=ChangeVia.MAILTO)
            )
        if changed:
            await self._confirm_unsubscribe(opened, stream, original_from)
        return True

    async def view_preferences(self, value: str, highlight: str = "") -> LinkView:
        async with self._db.reading() as tx:
            opened = await open_link(tx, value, LinkPurpose.PREFERENCES)
            if opened is None:
                return INVALID
            topics = await _topics(tx, opened.server.id, opened.token.email)
        return replace(self._view(opened, None), topics=topics)

    async def save_preferences(
        self, value: str, chosen: set[str], requester: Requester
    ) -> LinkView:
        """Join the chosen topics and leave the others; an empty choice leaves them all.
        Joining here is a confirmed opt-in: the link reached only the address's owner."""
        now = self._clock()
        async with self._db.transaction() as tx:
            opened = await open_link(tx, value, LinkPurpose.PREFERENCES)
            if opened is None:
                return INVALID
            email = opened.token.email
            via = replace(requester, via=ChangeVia.PREFERENCE_CENTRE)
            for topic in await _topics(tx, opened.server.id, email):
                wanted = topic.id in chosen
                if wanted != topic.subscribed:
                    change = SubscriptionChange(opened.server.id, topic.id, email, wanted, now, via)
                    await record_subscription_change(tx, change)
            topics = await _topics(tx, opened.server.id, email)
        return replace(self._view(opened, None), topics=topics)

    async def _leave(
        self,
        tx: Tx,
        server: Server,
        stream: Stream,
        email: str,
        message_id: str | None,
        requester: Requester,
    ) -> tuple[bool, str | None]:
        """Record the unsubscribe; (whether it changed anything, the From of the message)."""
        message = await message_store.get_message(tx, message_id) if message_id else None
        change = SubscriptionChange(
            server_id=server.id,
            stream=stream.stream_id,
            email=email,
            subscribed=False,
            at=self._clock(),
            requester=requester,
            # Retention may have deleted the message; the event then names none.
            message_id=message.id if message else None,
        )
        changed = await record_subscription_change(tx, change)
        return changed, message.sender if message else None

    async def _confirm_unsubscribe(
        self, opened: Opened, stream: Stream, original_from: str | None
    ) -> None:
        """The unsubscribe confirmation email, when the stream names a template. The person is
        unsubscribed whatever happens here, so a failure is logged, not shown to them."""
        template = stream.subscriptions.unsubscribe_template
        if not template:
            return
        view = self._view(opened, stream)
        model = {"resubscribe_url": view.resubscribe_url, "preferences_url": view.preferences_url}
        fields = notice_fields(
            stream, template, opened.token.email, model, fallback_from=original_from
        )
        if fields is None:
            log.warning("no From for the unsubscribe confirmation on stream %s", stream.stream_id)
            return
        result = await self._notices.send_notice(opened.server.id, fields)
        if result.error_code:
            log.warning("unsubscribe confirmation not sent: %s", result.message)

    def _view(self, opened: Opened, stream: Stream | None) -> LinkView:
        server, email = opened.server, opened.token.email
        preferences = self._links.preferences(server.id, server.secret, email)
        resubscribe = f"{preferences}?topic={stream.stream_id}" if stream else ""
        return LinkView(
            state=LinkState.OK,
            server=server,
            locale=opened.locale,
            email=email,
            stream=stream,
            preferences_url=preferences,
            resubscribe_url=resubscribe,
        )


async def _topics(tx: Tx, server_id: int, email: str) -> tuple[TopicView, ...]:
    """The server's live commercial streams and whether the address receives each: not
    suppressed there and, where the stream requires opt-in, confirmed."""
    streams = [
        s
        for s in await stream_store.list_streams(tx, server_id, archived=False)
        if s.stream_type is StreamType.BROADCASTS
    ]
    suppressed = await suppression_store.streams_suppressing(tx, server_id, email)
    subscriptions = {
        s.stream: s for s in await subscription_store.list_for_address(tx, server_id, email)
    }
    topics = []
    for stream in streams:
        subscription = subscriptions.get(stream.stream_id)
        confirmed = subscription is not None and subscription.status is SubscriptionStatus.CONFIRMED
        receives = stream.stream_id not in suppressed and (
            confirmed or not stream.subscriptions.require_opt_in
        )
        topics.append(TopicView(stream.stream_id, stream.name, stream.description, receives))
    return tuple(topics)
