"""What a recipient's link leads to, for the door to show as a page: state, who, which topics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from misiva.domain.records import Server, Stream


class LinkState(StrEnum):
    OK = "ok"
    # Forged, altered, or naming something that is gone: nothing was changed.
    INVALID = "invalid"
    # A confirmation link past its deadline: nothing was changed.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class TopicView:
    """One commercial stream as the preference centre lists it."""

    id: str
    name: str
    description: str | None
    subscribed: bool


@dataclass(frozen=True, slots=True)
class LinkView:
    state: LinkState
    server: Server | None = None
    locale: str = "en"
    email: str = ""
    stream: Stream | None = None
    preferences_url: str = ""
    resubscribe_url: str = ""
    topics: tuple[TopicView, ...] = ()
    # The address already stood as the link asks (confirmed twice, unsubscribed twice).
    already: bool = False


INVALID = LinkView(LinkState.INVALID)
EXPIRED = LinkView(LinkState.EXPIRED)
