"""Write planned traffic as if it had happened: the messages as accepted, with their rendered,
tracked MIME, then their delivery attempts, then opens, clicks and complaints.

The pipeline stamps "now"; the demo's past is written through the same functions instead
(ingest's renderer and builders, `events.record`'s write path), each with its planned moment.
Events go in phase by phase (queued, delivery, engagement), each phase in time order, so that
every message's timeline reads in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from misiva.delivery.retry import RetrySchedule, settle
from misiva.demo.people import RECEIVERS
from misiva.demo.plan import Engagement, Planned
from misiva.domain.delivery import (
    AttemptResult,
    ClaimedMessage,
    EventRecord,
    RecipientOutcome,
    RecipientState,
)
from misiva.domain.enums import EventType
from misiva.domain.message import SendFields
from misiva.domain.records import NewMessage, SendingDomain
from misiva.domain.smtp import SMTPReply
from misiva.events.record import record_attempts, record_events, record_queued
from misiva.ingest.templated import TemplateRenderer
from misiva.ingest.tenants import ServerContext
from misiva.ingest.tracked import add_tracking
from misiva.ingest.validate import validate_send
from misiva.mail.addresses import format_address
from misiva.mail.mime import build_mime
from misiva.storage import Database
from misiva.tracking.agents import describe_agent, is_machine_open
from misiva.tracking.rewrite import rewrite_links

# Rows per statement and per transaction: large enough to be quick, small enough for
# SQLite's limit on bound parameters.
BATCH = 400
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    messages: int
    events: int


@dataclass(frozen=True, slots=True)
class Shop:
    """Where the demo's mail comes from."""

    context: ServerContext
    domain: SendingDomain
    sender: str
    link_base: str
    models: dict[str, dict[str, Any]]


async def write_traffic(
    db: Database, shop: Shop, planned: Sequence[Planned], renderer: TemplateRenderer
) -> Written:
    links: dict[str, list[str]] = {}
    for chunk in _chunks(planned):
        rendered = await renderer.render_all(
            shop.context, [_fields(shop, p) for p in chunk], [p.id for p in chunk]
        )
        messages = []
        for plan, fields in zip(chunk, rendered, strict=True):
            if not isinstance(fields, SendFields):
                raise fields
            message, found = _message(shop, plan, fields)
            messages.append(message)
            links[plan.id] = found
        async with db.transaction() as tx:
            await record_queued(tx, messages)
    events = len(planned)
    attempts = sorted((e for p in planned for e in _delivery(shop, p)), key=lambda pair: pair[1].at)
    for chunk_of_attempts in _chunks(attempts):
        async with db.transaction() as tx:
            await record_attempts(
                tx, [a for a, _ in chunk_of_attempts if a], [e for _, e in chunk_of_attempts]
            )
        events += len(chunk_of_attempts)
    later = sorted((e for p in planned for e in _engagement(p, links[p.id])), key=lambda e: e.at)
    for chunk_of_events in _chunks(later):
        async with db.transaction() as tx:
            events += len(await record_events(tx, chunk_of_events))
    return Written(len(planned), events)


def _fields(shop: Shop, plan: Planned) -> SendFields:
    contact = plan.contact
    name = f"{contact.first_name} {contact.last_name}".strip()
    return SendFields(
        from_=shop.sender,
        to=format_address_text(name, contact.email),
        template_alias=plan.kind.alias,
        template_model=_model(shop.models.get(plan.kind.alias, {}), plan),
        tag=plan.kind.tag,
        metadata={"order_id": f"PED-{plan.number}", "customer_id": contact.external_id or ""}
        if plan.kind.alias in ("order-confirmation", "shipping-notice")
        else {"customer_id": contact.external_id or ""},
        message_stream="outbound",
        track_opens=True,
        track_links="HtmlAndText" if plan.kind.track_links else "None",
    )


def format_address_text(name: str, email: str) -> str:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{email}>' if name else email


def _model(base: dict[str, Any], plan: Planned) -> dict[str, Any]:
    """The template's test data, made this message's: its own order number and dates."""
    day = plan.at.date()
    model: dict[str, Any] = _replaced(base, {**_SHOP_SWAPS, "PED-2026-10482": f"PED-{plan.number}"})
    order = model.get("order")
    if isinstance(order, dict):
        order["date"] = day.isoformat()
        address = order.get("shipping_address")
        if isinstance(address, dict):
            address["name"] = f"{plan.contact.first_name} {plan.contact.last_name}"
            address["city"] = plan.contact.city or address.get("city", "")
    shipment = model.get("shipment")
    if isinstance(shipment, dict):
        shipment["estimated_delivery"] = (day + timedelta(days=3)).isoformat()
    for key in ("invoice", "payment"):
        if isinstance(model.get(key), dict) and "date" in model[key]:
            model[key]["date"] = day.isoformat()
            if "due_date" in model[key]:
                model[key]["due_date"] = (day + timedelta(days=30)).isoformat()
    return model


# The starter library's test data speaks of a shop and a software product by other names.
_SHOP_SWAPS = {
    "app.facturalia.example": "tienda.example",
    "olivar.example": "tienda.example",
    "Facturalia": "Tienda del Olivar",
}


def _replaced(value: Any, swaps: dict[str, str]) -> Any:
    """A deep copy of JSON data with each text of `swaps` replaced wherever it appears."""
    if isinstance(value, dict):
        return {k: _replaced(v, swaps) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, swaps) for v in value]
    if isinstance(value, str):
        for old, new in swaps.items():
            value = value.replace(old, new)
    return value


def _message(shop: Shop, plan: Planned, fields: SendFields) -> tuple[NewMessage, list[str]]:
    """The message as ingest would have built it at its moment, and its trackable links."""
    request = validate_send(fields)
    found: list[str] = []

    def remember(link: str, _where: str) -> str:
        # The links a reader can click: the ones tracking rewrites, before it does.
        found.append(link)
        return link

    rewrite_links(request.html_body, None, "HtmlOnly", remember)
    request = add_tracking(request, plan.id, shop.context, shop.link_base)
    message = NewMessage(
        id=plan.id,
        server_id=shop.context.server.id,
        stream=request.stream,
        domain_id=shop.domain.id,
        sender=format_address(request.sender),
        envelope_from=request.sender.email,
        to=[(a.email, a.name) for a in request.to],
        cc=[],
        bcc=[],
        recipients=tuple(request.recipients),
        subject=request.subject,
        tag=request.tag,
        metadata=request.metadata,
        track_opens=request.track_opens,
        track_links=request.track_links.value if request.track_links else None,
        mime=build_mime(request, message_id=plan.id, domain=shop.domain.name, date=plan.at),
        accepted_at=plan.at,
        template_id=fields.template_id,
        template_version=fields.template_version,
        locale=fields.locale,
    )
    return message, found


def _delivery(shop: Shop, plan: Planned) -> Iterator[tuple[AttemptResult | None, EventRecord]]:
    """Each attempt's event; the message's final state comes with its last attempt."""
    recipient = plan.contact.email
    receiver = RECEIVERS[recipient.partition("@")[2]]
    state = {recipient: RecipientState.PENDING.value}
    for number, (after, reply) in enumerate(plan.attempts, start=1):
        at = plan.at + timedelta(seconds=after)
        if reply.code == 250:
            reply = SMTPReply(250, _accepted(receiver.accepted, plan, at))
        claimed = ClaimedMessage(
            id=plan.id,
            server_id=shop.context.server.id,
            domain_id=shop.domain.id,
            envelope_from=shop.sender,
            rcpt_state=state,
            mime=b"",
            attempts=number,
            accepted_at=plan.at,
        )
        outcome = RecipientOutcome(recipient, reply, receiver.host, receiver.ip)
        result, [event] = settle(claimed, [outcome], at, RetrySchedule())
        state = result.rcpt_state
        yield (result if number == len(plan.attempts) else None), event


def _accepted(template: str, plan: Planned, at: datetime) -> str:
    queue = plan.id.replace("-", "")
    return template.format(
        stamp=int(at.timestamp()), queue=queue[:12].upper(), n=queue[12:20], message_id=plan.id
    )


def _engagement(plan: Planned, links: list[str]) -> Iterator[EventRecord]:
    recipient = plan.contact.email
    delivered = plan.at + timedelta(seconds=plan.attempts[-1][0])
    for number, read in enumerate(plan.opens):
        details = _agent(read, delivered)
        details["first_open"] = "true" if number == 0 else "false"
        yield _event(plan, EventType.OPENED, read.at, details)
    for click in plan.clicks:
        if links and click.link is not None:
            details = _agent(click, delivered)
            del details["machine_open"]
            details.update(original_link=links[click.link % len(links)], click_location="HTML")
            yield _event(plan, EventType.CLICKED, click.at, details)
    if plan.complaint_after is not None:
        details = {
            "bounce_type": "SpamComplaint",
            "diagnostic": "Feedback-Type: abuse",
            "status": "",
            "remote_mta": RECEIVERS[recipient.partition("@")[2]].host,
            "source": "returned mail",
        }
        at = plan.at + timedelta(seconds=plan.complaint_after)
        yield _event(plan, EventType.COMPLAINED, at, details)


def _agent(seen: Engagement, delivered: datetime) -> dict[str, str]:
    """What the tracking endpoints record of a user agent (feedback/engagement.py)."""
    agent = describe_agent(seen.user_agent)
    seconds = (seen.at - delivered).total_seconds()
    return {
        "user_agent": seen.user_agent,
        "client_name": agent.client_name,
        "client_company": agent.client_company,
        "client_family": agent.client_family,
        "os_name": agent.os_name,
        "os_company": agent.os_company,
        "os_family": agent.os_family,
        "platform": str(agent.platform),
        "is_proxy": "true" if agent.is_proxy else "false",
        "proxy": agent.proxy or "",
        "is_bot": "true" if agent.is_bot else "false",
        "machine_open": "true" if is_machine_open(agent, seconds) else "false",
    }


def _event(plan: Planned, kind: EventType, at: datetime, details: dict[str, str]) -> EventRecord:
    return EventRecord(plan.id, plan.contact.server_id, kind, plan.contact.email, at, details)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
