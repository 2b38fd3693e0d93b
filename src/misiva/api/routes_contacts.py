"""Contacts: upsert, read, search and erase the profiles templates personalise with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from misiva.accounts.contacts import erase_contact, get_contact, upsert_contact
from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.domain.contacts import Contact
from misiva.domain.errors import InvalidRequest
from misiva.storage import contacts as contact_store

router = APIRouter(tags=["contacts"])
MAX_CONTACT_BYTES = 256 * 1024


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "Email": contact.email,
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "Locale": contact.locale,
        "Country": contact.country,
        "City": contact.city,
        "PostalAddress": contact.postal_address,
        "MemberNumber": contact.member_number,
        "ExternalID": contact.external_id,
        "Attributes": contact.attributes,
        "CreatedAt": contact.created_at.isoformat() if contact.created_at else None,
        "UpdatedAt": contact.updated_at.isoformat() if contact.updated_at else None,
    }


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


@router.post("/contacts", summary="Create or update a contact (by Email)")
async def upsert(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    body = await read_json(request, MAX_CONTACT_BYTES)
    if not isinstance(body, dict):
        raise InvalidRequest("A contact must be a JSON object with at least an Email.")
    contact = await upsert_contact(deps_of(request).db, _server_id(who), body)
    return JSONResponse(contact_json(contact))


@router.get("/contacts/{email}", summary="One contact")
async def read(
    request: Request, email: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    contact = await get_contact(deps_of(request).db, _server_id(who), email)
    return JSONResponse(contact_json(contact))


@router.get("/contacts", summary="Search contacts, paged")
async def search(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
    count: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    query: Annotated[str | None, Query(max_length=320)] = None,
) -> JSONResponse:
    async with deps_of(request).db.transaction() as tx:
        total, found = await contact_store.search_contacts(
            tx, _server_id(who), query=query, limit=count, offset=offset
        )
    return JSONResponse({"TotalCount": total, "Contacts": [contact_json(c) for c in found]})


@router.delete("/contacts/{email}", summary="Erase a contact (GDPR)")
async def erase(
    request: Request, email: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    anonymised = await erase_contact(deps_of(request).db, _server_id(who), email)
    return JSONResponse(
        {
            "ErrorCode": 0,
            "Message": f"Contact {email} erased; {anonymised} stored message(s) anonymised.",
        }
    )
