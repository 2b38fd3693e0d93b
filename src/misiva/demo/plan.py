"""The shop's traffic, planned before anything is written: who gets which mail when, and what
happens to it afterwards (delivered, put off then delivered, bounced, opened, clicked...).

Pure and deterministic: one `random.Random` decides everything, so a seed gives the same
traffic (relative to the moment it is planned from) every time.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from misiva.demo.people import BOUNCES, DEFERRALS, DOMAINS
from misiva.domain.contacts import Contact
from misiva.domain.smtp import SMTPReply


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of mail the shop sends: its starter template, tag and share of the traffic."""

    alias: str
    tag: str
    share: float
    # Links in a password reset are single-use secrets: they are never rewritten for tracking.
    track_links: bool = True
    open_rate: float = 0.5


KINDS: Final = (
    Kind("order-confirmation", "pedido", 0.34, open_rate=0.62),
    Kind("shipping-notice", "envio", 0.26, open_rate=0.55),
    Kind("payment-receipt", "recibo", 0.12, open_rate=0.38),
    Kind("password-reset", "password-reset", 0.10, track_links=False, open_rate=0.7),
    Kind("welcome-confirm", "alta", 0.10, open_rate=0.48),
    Kind("invoice", "factura", 0.08, open_rate=0.35),
)
# What share of messages bounce (about 2%, as a shop's list with some typos does), is put
# off once before delivery, and draws a spam complaint (Gmail asks senders for under 0.1%).
BOUNCE_RATE: Final = 0.02
DEFER_RATE: Final = 0.05
COMPLAINT_RATE: Final = 0.0008
CLICK_RATE: Final = 0.3
# People shop in the evening more than at night (Madrid hours, UTC+1 in winter): weights by
# UTC hour of the day.
HOUR_WEIGHTS: Final = (
    1,
    1,
    1,
    1,
    1,
    2,
    4,
    6,
    8,
    9,
    9,
    9,
    10,
    9,
    8,
    8,
    9,
    10,
    12,
    13,
    12,
    9,
    5,
    2,
)


@dataclass(frozen=True, slots=True)
class Engagement:
    """An open or a click: when, which user agent, and for a click which link (an index into
    the message's links, taken modulo how many it has)."""

    at: datetime
    user_agent: str
    link: int | None = None


@dataclass(slots=True)
class Planned:
    """One message and its whole future."""

    id: str
    at: datetime
    contact: Contact
    kind: Kind
    number: int
    # Seconds after acceptance of each attempt, with the receiving server's reply.
    attempts: list[tuple[float, SMTPReply]]
    opens: list[Engagement] = field(default_factory=list)
    clicks: list[Engagement] = field(default_factory=list)
    complaint_after: float | None = None

    @property
    def bounced(self) -> bool:
        return self.attempts[-1][1].code >= 500


def plan_traffic(
    rng: random.Random,
    contacts: list[Contact],
    *,
    now: datetime,
    days: int,
    count: int,
    open_agents: list[tuple[str, int]],
    click_agents: list[tuple[str, int]],
) -> list[Planned]:
    """`count` messages over the `days` before `now`, oldest first."""
    times = sorted(_moment(rng, now, days) for _ in range(count))
    planned = []
    # Who called a message spam: a complaint suppresses the address, so nothing is sent to
    # them afterwards.
    complained: set[str] = set()
    for number, at in enumerate(times, start=1):
        kind = rng.choices(KINDS, weights=[k.share for k in KINDS])[0]
        bounced = rng.random() < BOUNCE_RATE
        contact = rng.choice(contacts)
        while contact.email in complained:
            contact = rng.choice(contacts)
        # A bounce goes to an address with a typo in it: one that no other mail goes to, since
        # a hard bounce suppresses the address and later sends to it would be refused.
        contact = _mistyped(rng, contact) if bounced else contact
        attempts = _attempts(rng, bounced, contact.email)
        message = Planned(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            at=at,
            contact=contact,
            kind=kind,
            number=10480 + number,
            attempts=attempts,
        )
        if not bounced:
            _engage(rng, message, now, open_agents, click_agents)
            if rng.random() < COMPLAINT_RATE and len(complained) < len(contacts) // 2:
                after = attempts[-1][0] + rng.uniform(600, 86400)
                if at + timedelta(seconds=after) < now:
                    message.complaint_after = after
                    complained.add(contact.email)
        planned.append(message)
    return planned


def _moment(rng: random.Random, now: datetime, days: int) -> datetime:
    """A moment within the past `days`, busier in the evening and a little busier lately."""
    while True:
        # Recent days are a little busier: a shop that grows.
        day = int((1 - rng.random() ** 0.8) * days)
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        start = (now - timedelta(days=day)).replace(hour=hour, minute=0, second=0, microsecond=0)
        at = start + timedelta(seconds=rng.uniform(0, 3600))
        # A minute of margin: every message's delivery has happened by now.
        if at < now - timedelta(minutes=1):
            return at


def _attempts(rng: random.Random, bounced: bool, recipient: str) -> list[tuple[float, SMTPReply]]:
    first = rng.uniform(0.4, 3.0)
    if bounced:
        reply = rng.choice(BOUNCES)
        return [(first, SMTPReply(reply.code, reply.text.format(recipient=recipient)))]
    if rng.random() < DEFER_RATE:
        # The retry schedule's first steps: 30 s, then 60 s, 120 s... (delivery/retry.py).
        retry = first + 30 * 2 ** rng.randint(0, 4) + rng.uniform(0, 2)
        return [(first, rng.choice(DEFERRALS)), (retry, SMTPReply(250, ""))]
    return [(first, SMTPReply(250, ""))]


def _engage(
    rng: random.Random,
    message: Planned,
    now: datetime,
    open_agents: list[tuple[str, int]],
    click_agents: list[tuple[str, int]],
) -> None:
    delivered = message.at + timedelta(seconds=message.attempts[-1][0])
    if rng.random() >= message.kind.open_rate:
        return
    agent = _weighted(rng, open_agents)
    # Most people read within the hour; some the next day (a log-normal delay).
    first = delivered + timedelta(seconds=min(rng.lognormvariate(7.0, 1.6), 4 * 86400))
    reads = [first]
    if rng.random() < 0.25:
        reads.append(first + timedelta(seconds=rng.uniform(300, 2 * 86400)))
    message.opens.extend(Engagement(at, agent) for at in reads if at < now)
    if message.kind.track_links and message.opens and rng.random() < CLICK_RATE:
        at = first + timedelta(seconds=rng.uniform(5, 600))
        if at < now:
            message.clicks.append(Engagement(at, _weighted(rng, click_agents), rng.randrange(8)))


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _mistyped(rng: random.Random, contact: Contact) -> Contact:
    local, _, domain = contact.email.partition("@")
    cut = rng.randrange(1, len(local))
    typo = f"{local[:cut]}{local[cut + 1 :]}{rng.randint(100, 999)}"
    other = rng.choice([d for d in DOMAINS if d != domain] or [domain])
    return Contact(
        server_id=contact.server_id,
        email=f"{typo}@{other}",
        first_name=contact.first_name,
        last_name=contact.last_name,
        locale=contact.locale,
    )
