"""The emails a subscription change sends: the opt-in confirmation, welcome, and unsubscribe
confirmation, each from a template the stream names, on its transactional notice stream."""

from __future__ import annotations

from typing import Any, Protocol

from misiva.domain.message import SendFields, SendResult
from misiva.domain.records import Stream


class NoticeSender(Protocol):
    """How the stage sends: the ingest path every send takes (the runtime hands it over)."""

    async def send_notice(self, server_id: int, fields: SendFields) -> SendResult: ...


def notice_fields(
    stream: Stream,
    template: str,
    to: str,
    model: dict[str, Any],
    *,
    fallback_from: str | None = None,
    locale: str | None = None,
) -> SendFields | None:
    """The send for one notice; None when no From is known to send it from."""
    sender = stream.subscriptions.notice_from or fallback_from
    if not sender:
        return None
    return SendFields(
        from_=sender,
        to=to,
        template_alias=template,
        template_model={"stream_name": stream.name, **model},
        message_stream=stream.subscriptions.notice_stream,
        locale=locale,
        # The template alias tells these notices apart in the activity log and statistics.
        tag=template,
    )
