"""The audit log, for owners: who changed what, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from misiva.accounts.audit import recent
from misiva.domain.users import Capability
from misiva.web.access import forbidden, signed_in
from misiva.web.deps import web_deps
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/ui/audit")
async def audit(request: Request, offset: int = 0) -> Response:
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    if not session.user.can(Capability.SEE_AUDIT):
        return forbidden(session)
    lines = await recent(web_deps(request).db, limit=PAGE_SIZE, offset=max(offset, 0))
    return page(
        "audit.html",
        session.user.locale,
        user=session.user,
        csrf=session.csrf_token,
        lines=lines,
        offset=max(offset, 0),
        size=PAGE_SIZE,
    )
