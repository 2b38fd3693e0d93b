"""Open and click tracking added at accept time: a signed pixel and signed link redirects."""

from __future__ import annotations

import dataclasses
import re

from misiva.domain.enums import TrackLinks
from misiva.domain.message import SendRequest
from misiva.ingest.tenants import ServerContext
from misiva.tracking.rewrite import add_open_pixel, rewrite_links
from misiva.tracking.tokens import TokenKind, TrackingToken, sign_token

_ANGLED = re.compile(r"<([^>]+)>")


def add_tracking(
    request: SendRequest, message_id: str, context: ServerContext, link_base: str
) -> SendRequest:
    """The request with its HTML and text rewritten for tracking, as the message and its
    stream ask (the message's own TrackOpens / TrackLinks win over the stream's)."""
    stream = context.streams.get(request.stream)
    default_opens = stream.track_opens if stream else False
    default_links = stream.track_links if stream else TrackLinks.NONE.value
    opens = default_opens if request.track_opens is None else request.track_opens
    links = request.track_links or TrackLinks(default_links)
    recipient = next(iter(request.recipients), "")
    if not recipient or not context.server.secret or (not opens and links is TrackLinks.NONE):
        return request
    secret = bytes.fromhex(context.server.secret)

    def url(kind: TokenKind, link: str | None = None) -> str:
        token = TrackingToken(kind, message_id, recipient.lower(), link=link, stream=None)
        return f"{link_base}/t/{kind.value}/{sign_token(token, secret)}"

    html, text = request.html_body, request.text_body
    if links is not TrackLinks.NONE:
        html, text = rewrite_links(
            html,
            text,
            links.value,
            lambda original, _where: url(TokenKind.CLICK, original),
            keep=_list_unsubscribe(request),
        )
    if opens and html:
        html = add_open_pixel(html, url(TokenKind.OPEN))
    return dataclasses.replace(request, html_body=html, text_body=text)


def _list_unsubscribe(request: SendRequest) -> list[str]:
    """Unsubscribe links are never rewritten (RFC 8058 needs the real URL)."""
    return [
        found
        for header in request.headers
        if header.name.lower() == "list-unsubscribe"
        for found in _ANGLED.findall(header.value)
    ]
