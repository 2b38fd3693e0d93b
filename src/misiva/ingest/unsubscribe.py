"""One-click unsubscribe headers added at accept time (RFC 2369 List-Unsubscribe, RFC 8058)."""

from __future__ import annotations

import dataclasses

from misiva.bounces import unsubscribe_address
from misiva.domain.message import HeaderField, SendRequest
from misiva.ingest.tenants import ServerContext
from misiva.tracking.consent_tokens import ConsentLinks

_HANDLED = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


def add_list_unsubscribe(
    request: SendRequest,
    message_id: str,
    context: ServerContext,
    links: ConsentLinks,
    bounce_domain: str | None,
) -> SendRequest:
    """The request with List-Unsubscribe and List-Unsubscribe-Post, when its stream leaves
    unsubscribes to Misiva and the caller did not write their own.

    The HTTPS URL takes RFC 8058's one-click POST; the mailto (on the bounce domain, when one
    is set) serves clients that only mail. Both act for the first recipient, the one the
    message is personalised for. DKIM signs both fields (mail/dkim.py), as RFC 8058 §4 asks.
    """
    stream = context.streams.get(request.stream)
    recipient = next(iter(request.recipients), "")
    server = context.server
    if stream is None or not stream.subscriptions.handles_unsubscribe or not recipient:
        return request
    if not server.secret or any(h.name.lower() in _HANDLED for h in request.headers):
        return request
    url = links.unsubscribe(server.id, server.secret, request.stream, recipient, message_id)
    targets = [f"<{url}>"]
    if bounce_domain:
        mailto = unsubscribe_address(message_id, bounce_domain)
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    added = (
        HeaderField("List-Unsubscribe", ", ".join(targets)),
        HeaderField("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
    return dataclasses.replace(request, headers=(*request.headers, *added))
