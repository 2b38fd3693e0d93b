"""Double opt-in and subscription state over the API (Misiva's extension of Postmark's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from misiva.accounts.contacts import upsert_contact
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.errors import InvalidRequest
from misiva.domain.records import Server
from misiva.domain.subscriptions import ConsentRecord, Requester, Subscription, SubscriptionStatus
from misiva.subscriptions.optin import OptInRequest
from misiva.subscriptions.profile import address_profile

router = APIRouter(tags=["subscriptions"])
MAX_BODY = 256 * 1024


def subscription_json(s: Subscription) -> dict[str, Any]:
    return {
        "Email": s.email,
        "MessageStream": s.stream,
        "Status": s.status.value.capitalize(),
        "Source": s.source,
        "CreatedAt": _iso(s.created_at),
        "RequestedAt": _iso(s.requested_at),
        "ConfirmedAt": _iso(s.confirmed_at),
        "UnsubscribedAt": _iso(s.unsubscribed_at),
        "ExpiresAt": _iso(s.expires_at),
        "ConfirmationMessageID": s.confirmation_message_id,
    }


def consent_json(r: ConsentRecord) -> dict[str, Any]:
    return {
        "MessageStream": r.stream,
        "Action": r.action.value,
        "At": _iso(r.at),
        "IpAddress": r.ip,
        "UserAgent": r.user_agent,
        "Source": r.source,
        "MessageID": r.message_id,
        "TemplateId": r.template_id,
        "TemplateVersion": r.template_version,
        "Evidence": r.evidence,
    }


@router.post("/subscriptions", summary="Ask an address to confirm a subscription (double opt-in)")
async def request_subscription(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await _body(request)
    wanted = _opt_in_request(body)
    contact = body.get("Contact")
    if contact is not None:
        if not isinstance(contact, dict):
            raise InvalidRequest("Invalid 'Contact': expected an object of contact fields.")
        await upsert_contact(
            deps_of(request).db, _server(who).id, {**contact, "Email": wanted.email}
        )
    subscription = await deps_of(request).opt_in.request(_server(who), wanted)
    return JSONResponse(subscription_json(subscription))


@router.post("/subscriptions/resend", summary="Send a pending subscription's confirmation again")
async def resend(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    wanted = _opt_in_request(await _body(request))
    subscription = await deps_of(request).opt_in.request(_server(who), wanted, resend=True)
    return JSONResponse(subscription_json(subscription))


@router.get("/subscriptions", summary="A stream's subscriptions, paged")
async def list_subscriptions(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    count: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    query = {k.lower(): v for k, v in request.query_params.items()}
    stream = query.get("messagestream") or "broadcast"
    status = query.get("status", "").lower() or None
    if status is not None and status not in {s.value for s in SubscriptionStatus}:
        raise InvalidRequest("Invalid 'Status': use Pending, Confirmed or Unsubscribed.")
    total, found = await deps_of(request).opt_in.list(
        _server(who).id,
        stream,
        SubscriptionStatus(status) if status else None,
        limit=count,
        offset=offset,
    )
    return JSONResponse(
        {"TotalCount": total, "Subscriptions": [subscription_json(s) for s in found]}
    )


@router.get("/contacts/{email}/subscriptions", summary="An address's subscriptions and consent")
async def contact_subscriptions(
    request: Request, email: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    server = _server(who)
    profile = await address_profile(deps_of(request).db, server.id, email)
    return JSONResponse(
        {
            "Email": profile.email,
            "Subscriptions": [subscription_json(s) for s in profile.subscriptions],
            "Suppressions": [
                {"MessageStream": stream, "SuppressionReason": reason}
                for stream, reason in sorted(profile.suppressed.items())
            ],
            "ConsentHistory": [consent_json(r) for r in profile.consent],
            "PreferencesUrl": deps_of(request).links.preferences(
                server.id, server.secret, profile.email
            ),
        }
    )


def _server(who: Caller) -> Server:
    assert who.context is not None
    return who.context.server


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, MAX_BODY)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


def _opt_in_request(body: dict[str, Any]) -> OptInRequest:
    def text(name: str) -> str | None:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"Invalid '{name}': expected a string.")
        return value or None

    email = text("Email") or text("EmailAddress")
    if not email:
        raise InvalidRequest("Provide the 'Email' address to subscribe.")
    return OptInRequest(
        email=email,
        stream=text("MessageStream") or "broadcast",
        source=text("Source"),
        # The person's own IP and user agent, as the app saw them on its sign-up form: the
        # API caller is the app, so its address proves nothing.
        requester=Requester(ip=text("IpAddress"), user_agent=text("UserAgent")),
        locale=text("Locale"),
        sender=text("From"),
    )


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
