"""Inactive recipients: who a send must skip (suppressed on its stream, or not opted in to a
stream that requires it), in Postmark's words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError
from misiva.domain.message import SendRequest
from misiva.storage import Tx
from misiva.storage import subscriptions as subscription_store
from misiva.storage import suppressions as suppression_store

INACTIVE_REASON = (
    "Inactive recipients are ones that have generated a hard bounce or a spam complaint."
)


async def find_inactive(
    tx: Tx, submissions: Sequence[tuple[int, Sequence[SendRequest | None], frozenset[str]]]
) -> list[list[frozenset[str]]]:
    """For each (server, requests, opt-in streams) submission, each request's inactive
    recipients: suppressed on its stream, or, on a stream that requires confirmed opt-in,
    without a confirmed subscription.

    Concurrent submissions share one query per server and stream (two on an opt-in stream),
    inside the transaction that queues them: a change committed before it is seen, with no
    extra round trip.
    """
    wanted: dict[tuple[int, str], set[str]] = defaultdict(set)
    opt_in: set[tuple[int, str]] = set()
    for server_id, requests, opt_in_streams in submissions:
        for request in requests:
            if request is not None:
                wanted[server_id, request.stream].update(r.lower() for r in request.recipients)
                if request.stream in opt_in_streams:
                    opt_in.add((server_id, request.stream))
    found: dict[tuple[int, str], set[str]] = {}
    for (server_id, stream), emails in wanted.items():
        listed = sorted(emails)
        inactive = set(await suppression_store.suppressed_among(tx, server_id, stream, listed))
        if (server_id, stream) in opt_in:
            confirmed = await subscription_store.confirmed_among(tx, server_id, stream, listed)
            inactive |= emails - confirmed
        found[server_id, stream] = inactive
    return [
        [
            frozenset(
                r
                for r in request.recipients
                if r.lower() in found.get((server_id, request.stream), set())
            )
            if request is not None
            else frozenset()
            for request in requests
        ]
        for server_id, requests, _ in submissions
    ]


def all_inactive(inactive: Sequence[str]) -> MisivaError:
    """Postmark's 406, byte for byte as real clients parse it (reference §1.3)."""
    return MisivaError(
        "You tried to send to a recipient that has been marked as inactive.\n"
        f"Found inactive addresses: {', '.join(sorted(inactive))}.\n{INACTIVE_REASON}",
        ErrorCode.INACTIVE_RECIPIENT,
    )


def partly_inactive(inactive: Sequence[str]) -> str:
    return (
        "Message OK, but will not deliver to these inactive addresses: "
        f"{', '.join(sorted(inactive))}. {INACTIVE_REASON}"
    )
