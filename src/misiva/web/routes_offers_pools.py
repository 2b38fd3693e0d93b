"""Offers in the UI, promo code pools: the server's pools with their stock and a form to create
one; a pool's page with its stock, imports (a CSV file or pasted codes), generation from a
pattern, and the codes it has given (to whom, by which message, redeemed or not)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from misiva.accounts import audit
from misiva.authoring import promo_pools
from misiva.authoring.promo_pools import ImportResult
from misiva.domain.errors import InvalidRequest, MisivaError, NotFound
from misiva.domain.promo import (
    MAX_GENERATE,
    MAX_IMPORT_BYTES,
    Exhaustion,
    ParsedCodes,
    PromoPool,
    exhaustion_of,
    parse_csv,
    parse_csv_bytes,
    parse_moment,
)
from misiva.domain.users import Capability
from misiva.web.access import Visit, not_found, posted, visit
from misiva.web.deps import web_deps
from misiva.web.forms import expired_form, same
from misiva.web.i18n import N_, gettext_for
from misiva.web.ops_pages import notice
from misiva.web.render import page

router = APIRouter(include_in_schema=False)
POOLS = "/ui/servers/{server_id}/offers/pools"
POOL = POOLS + "/{key}"
PAGE_SIZE = 50
# Far past any real pool, and it keeps a typed page number from overflowing an OFFSET.
_MAX_PAGE = 100_000
# Refused lines and duplicates listed after an import: enough to fix a file, the counts say
# the rest (an import of 100,000 bad lines must not make a page of 100,000 rows).
SHOWN = 100
# A multipart form's boundaries and small fields around the file.
_FORM_OVERHEAD = 64 * 1024
# The create form's fields, kept to show again beside an error.
_CREATE_FIELDS = ("key", "description", "starts_at", "ends_at", "exhaustion", "fallback_text")

EXHAUSTION = {
    Exhaustion.REFUSE.value: N_("Refuse the send"),
    Exhaustion.FALLBACK.value: N_("Send the fallback text"),
    Exhaustion.OMIT.value: N_("Leave the code out"),
}
VALIDITY = {
    "active": N_("valid now"),
    "pending": N_("not started yet"),
    "ended": N_("ended"),
}
_NOTICES = {"created": N_("The pool was created: fill it with codes below.")}
BAD_THRESHOLD = N_("The low-stock threshold must be a whole number, 0 or more.")
BAD_COUNT = N_("How many codes: a whole number from 1 to %(most)d.")
NOTHING_TO_IMPORT = N_("Choose a CSV file or paste codes, one a line.")
UNREADABLE = N_("The form could not be read: a file or pasted text over %(mb)d MB is refused.")


@router.get(POOLS)
async def pools(request: Request, server_id: int) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    return await _pools_page(request, got)


@router.post(POOLS)
async def create_pool(request: Request, server_id: int) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    fields = {name: form.get(name).strip() for name in _CREATE_FIELDS}
    fields["low_stock"] = form.get("low_stock", "0").strip()
    deps = web_deps(request)
    try:
        view = await promo_pools.create_pool(
            deps.db,
            server_id,
            fields["key"],
            description=fields["description"],
            starts_at=_moment(fields["starts_at"], "Valid from"),
            ends_at=_moment(fields["ends_at"], "Valid until"),
            exhaustion=exhaustion_of(fields["exhaustion"] or Exhaustion.REFUSE.value),
            fallback_text=fields["fallback_text"],
            low_stock_threshold=_whole(fields["low_stock"] or "0", BAD_THRESHOLD),
        )
    except MisivaError as error:
        return await _pools_page(request, got, error=error.message, form=fields, status=422)
    pool = view.pool
    await audit.record(
        deps.db,
        got.user,
        "promo_pool.create",
        pool.key,
        server_id=server_id,
        details={
            "exhaustion": pool.exhaustion.value,
            "low_stock_threshold": str(pool.low_stock_threshold),
        },
    )
    return RedirectResponse(
        POOL.format(server_id=server_id, key=pool.key) + "?done=created", status_code=303
    )


@router.get(POOL)
async def pool(request: Request, server_id: int, key: str) -> Response:
    got = await visit(request, server_id, Capability.READ)
    if isinstance(got, Response):
        return got
    return await _pool_page(request, got, key)


@router.post(POOL + "/import")
async def import_codes(request: Request, server_id: int, key: str) -> Response:
    """A CSV file (multipart) or codes pasted in the form: the good lines are imported, the
    refused ones listed with their line numbers."""
    got = await visit(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(got, Response):
        return got
    deps = web_deps(request)
    try:
        read = await _codes_posted(request, got)
        if read is None:
            return expired_form()
        parsed, source = read
        result = await promo_pools.import_codes(deps.db, server_id, key, parsed)
    except NotFound:
        return not_found(got.session)
    except MisivaError as error:
        return await _pool_page(request, got, key, error=error.message, status=422)
    details = _counts(result) | {"source": source}
    await audit.record(
        deps.db, got.user, "promo_pool.import", key, server_id=server_id, details=details
    )
    return await _pool_page(request, got, key, result=result)


@router.post(POOL + "/generate")
async def generate(request: Request, server_id: int, key: str) -> Response:
    sent = await posted(request, server_id, Capability.EDIT_CONTENT)
    if isinstance(sent, Response):
        return sent
    got, form = sent
    pattern = form.get("pattern").strip()
    deps = web_deps(request)
    try:
        too_many = _say(got, BAD_COUNT) % {"most": MAX_GENERATE}
        count = _whole(form.get("count").strip(), too_many)
        result = await promo_pools.generate(deps.db, server_id, key, pattern, count)
    except NotFound:
        return not_found(got.session)
    except MisivaError as error:
        fields = {"pattern": pattern, "count": form.get("count")}
        return await _pool_page(request, got, key, error=error.message, form=fields, status=422)
    details = _counts(result) | {"pattern": pattern, "count": str(count)}
    await audit.record(
        deps.db, got.user, "promo_pool.generate", key, server_id=server_id, details=details
    )
    return await _pool_page(request, got, key, result=result)


async def _codes_posted(request: Request, got: Visit) -> tuple[ParsedCodes, str] | None:
    """The codes of the import form: its CSV file, else its pasted text; None without the
    session's CSRF token. A multipart form, so checked here rather than by checked_form."""
    length = request.headers.get("content-length", "")
    too_large = _say(got, UNREADABLE) % {"mb": MAX_IMPORT_BYTES // 2**20}
    if length.isdigit() and int(length) > MAX_IMPORT_BYTES + _FORM_OVERHEAD:
        raise InvalidRequest(too_large)
    try:
        # Pasted codes are a field, not a file: let one be as large as a file may be.
        async with request.form(max_files=1, max_fields=5, max_part_size=MAX_IMPORT_BYTES) as form:
            token, upload, pasted = form.get("csrf"), form.get("file"), form.get("codes")
            if not isinstance(token, str) or not same(got.csrf, token):
                return None
            if isinstance(upload, UploadFile) and upload.filename:
                raw = await upload.read(MAX_IMPORT_BYTES + 1)
                return parse_csv_bytes(raw), upload.filename
    except HTTPException:
        # Starlette's answer to a part over max_part_size or too many fields.
        raise InvalidRequest(too_large) from None
    if isinstance(pasted, str) and pasted.strip():
        return parse_csv(pasted), "pasted"
    raise InvalidRequest(NOTHING_TO_IMPORT)


async def _pools_page(
    request: Request,
    got: Visit,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    views = await promo_pools.list_pools(web_deps(request).db, got.server.id)
    return page(
        "offers/pools.html",
        got.user.locale,
        status,
        **got.context("offers"),
        **_shared(request, got),
        views=views,
        form=form or {"exhaustion": Exhaustion.REFUSE.value, "low_stock": "0"},
        error=error,
        notice=None,
    )


async def _pool_page(
    request: Request,
    got: Visit,
    key: str,
    *,
    result: ImportResult | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    number = _page(request.query_params.get("page"))
    try:
        view, given = await promo_pools.allocations(
            web_deps(request).db,
            got.server.id,
            key,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
    except NotFound:
        return not_found(got.session)
    last_page = max((view.stock.allocated + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    path = POOL.format(server_id=got.server.id, key=view.pool.key)
    return page(
        "offers/pool.html",
        got.user.locale,
        status,
        **got.context("offers"),
        **_shared(request, got),
        view=view,
        given=given,
        result=result,
        shown=SHOWN,
        max_generate=MAX_GENERATE,
        form=form or {},
        error=error,
        notice=notice(request, _NOTICES, got.user.locale),
        page_number=number,
        last_page=last_page,
        previous_url=f"{path}?page={number - 1}" if number > 1 else None,
        next_url=f"{path}?page={number + 1}" if number < last_page else None,
    )


def _shared(request: Request, got: Visit) -> dict[str, Any]:
    """What both pages show a pool with: the words for its rules and dates."""
    now = web_deps(request).clock()
    return {
        "may_edit": got.user.can(Capability.EDIT_CONTENT),
        "exhaustion_labels": EXHAUSTION,
        "validity_labels": VALIDITY,
        "validity": lambda p: _validity(p, now),
        "pools_url": POOLS.format(server_id=got.server.id),
    }


def _validity(pool: PromoPool, now: datetime) -> str:
    if pool.active_at(now):
        return "active"
    return "pending" if pool.starts_at and now < pool.starts_at else "ended"


def _counts(result: ImportResult) -> dict[str, str]:
    return {
        "added": str(result.added),
        "duplicates": str(len(result.duplicates)),
        "refused": str(len(result.errors)),
    }


def _moment(value: str, name: str) -> datetime | None:
    # The form's date-time fields carry no zone: the page says they are UTC.
    return parse_moment(value, name, UTC) if value else None


def _whole(value: str, problem: str) -> int:
    if not _number(value):
        raise InvalidRequest(problem)
    return int(value)


def _number(value: str) -> bool:
    # isdigit alone takes "²" and other digits int() refuses; and a short number stays short.
    return value.isascii() and value.isdigit() and len(value) <= 9


def _say(got: Visit, text: str) -> str:
    return gettext_for(got.user.locale).gettext(text)


def _page(value: str | None) -> int:
    # A page that is no number is the first page: paging links are ours, a typo is harmless.
    return min(max(int(value), 1), _MAX_PAGE) if value and _number(value) else 1
