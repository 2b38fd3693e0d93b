"""Postmark's Templates API, plus Misiva's versions: drafts, publish, rollback, diff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import MAX_OFFSET
from misiva.api.responses import JSONResponse
from misiva.api.routes_email import read_json
from misiva.api.template_schemas import (
    parse_template_fields,
    short_json,
    template_json,
    version_json,
)
from misiva.authoring import templates as authoring
from misiva.authoring.content_json import report_json
from misiva.authoring.validate import validate_template
from misiva.domain.content import StreamUse
from misiva.domain.enums import ErrorCode, StreamType
from misiva.domain.errors import InvalidRequest
from misiva.domain.templates import TemplateType
from misiva.storage import templates as template_store

router = APIRouter(tags=["templates"])
MAX_TEMPLATE_BYTES = 2 * 1024 * 1024


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, MAX_TEMPLATE_BYTES)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", ErrorCode.INCOMPATIBLE_JSON)
    return body


@router.get("/templates", summary="List templates")
async def list_templates(
    request: Request,
    who: Annotated[Caller, Depends(server_caller)],
) -> JSONResponse:
    # Postmark clients send Count/Offset and count/offset alike: read them case-insensitively.
    query = {k.lower(): v for k, v in request.query_params.items()}
    try:
        count = int(query.get("count", "100"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        raise InvalidRequest(
            "Count and Offset must be numbers.", ErrorCode.TEMPLATE_QUERY
        ) from None
    if not 0 < count <= 500 or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest(
            "Count must be 1 to 500 and Offset 0 or more.", ErrorCode.TEMPLATE_QUERY
        )
    kind_name = query.get("templatetype", "All")
    kind = None if kind_name.lower() == "all" else _template_type(kind_name)
    async with deps_of(request).db.transaction() as tx:
        total, found = await template_store.list_templates(
            tx,
            _server_id(who),
            template_type=kind,
            layout_alias=query.get("layouttemplate"),
            limit=count,
            offset=offset,
        )
    return JSONResponse({"TotalCount": total, "Templates": [short_json(t) for t in found]})


def _template_type(name: str) -> TemplateType:
    for kind in TemplateType:
        if kind.value.lower() == name.lower():
            return kind
    raise InvalidRequest(
        f"Unknown TemplateType {name!r}: use All, Standard or Layout.", ErrorCode.TEMPLATE_QUERY
    )


@router.post("/templates", summary="Create a template or layout (published at once)")
async def create(request: Request, who: Annotated[Caller, Depends(server_caller)]) -> JSONResponse:
    fields = parse_template_fields(await _body(request))
    details = await authoring.create_template(deps_of(request).db, _server_id(who), fields)
    return JSONResponse(short_json(details.template))


@router.post("/templates/validate", summary="Check and test-render template content")
async def validate(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await _body(request)
    use, share = _stream_use(who, body.get("MessageStream"))
    result = await validate_template(
        deps_of(request).db, _server_id(who), body, use=use, max_block_share=share
    )
    return JSONResponse(result)


@router.get("/templates/{id_or_alias}", summary="A template's published content")
async def read(
    request: Request,
    id_or_alias: str,
    who: Annotated[Caller, Depends(server_caller)],
    locale: Annotated[str | None, Query(alias="Locale")] = None,
) -> JSONResponse:
    details = await authoring.get_template(deps_of(request).db, _server_id(who), id_or_alias)
    return JSONResponse(template_json(details.template, details.version, locale))


@router.put("/templates/{id_or_alias}", summary="Edit a template (published at once)")
async def edit(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    fields = parse_template_fields(await _body(request))
    details = await authoring.update_template(
        deps_of(request).db, _server_id(who), id_or_alias, fields
    )
    return JSONResponse(short_json(details.template))


@router.delete("/templates/{id_or_alias}", summary="Delete a template")
async def delete(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    template = await authoring.delete_template(deps_of(request).db, _server_id(who), id_or_alias)
    return JSONResponse({"ErrorCode": 0, "Message": f"Template {template.id} removed."})


@router.get("/templates/{id_or_alias}/versions", summary="Misiva: every version of a template")
async def versions(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    template, found = await authoring.list_versions(
        deps_of(request).db, _server_id(who), id_or_alias
    )
    return JSONResponse(
        {
            "TemplateId": template.id,
            "PublishedVersion": template.published_version,
            "Versions": [version_json(v, template) for v in found],
        }
    )


@router.post("/templates/{id_or_alias}/versions", summary="Misiva: save a draft version")
async def save_draft(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    fields = parse_template_fields(await _body(request))
    details = await authoring.update_template(
        deps_of(request).db, _server_id(who), id_or_alias, fields, publish=False
    )
    return JSONResponse(version_json(details.version, details.template))


@router.post("/templates/{id_or_alias}/publish", summary="Misiva: publish or roll back")
async def publish(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await _body(request)
    number = body.get("Version")
    if not isinstance(number, int):
        raise InvalidRequest("Give the 'Version' number to publish.")
    deps = deps_of(request)
    template = await authoring.publish_version(deps.db, _server_id(who), id_or_alias, number)
    # The API is the developers' door: it publishes, and answers with the content checks
    # (lint and spam score) for the caller to act on; the UI is where a marketer is stopped.
    assert who.context is not None
    _, report = await deps.content_checks.check_version(
        deps.db,
        who.context.server,
        template.id,
        number,
        sender_domain=_sender_domain(who),
        strict=False,
    )
    return JSONResponse({**short_json(template), "ContentChecks": report_json(report)})


@router.post(
    "/templates/{id_or_alias}/spamcheck",
    summary="Misiva: spam score (SpamAssassin) and content lint of a version",
)
async def spamcheck(
    request: Request, id_or_alias: str, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    """Body (optional): `{"Version": n}` (default: the latest version) and `"MessageStream"`
    (lint for that stream's kind). 422 with ErrorCode 1140 when spamd is not configured,
    503 with 1141 when it does not answer."""
    raw = await request.body()
    body = await _body(request) if raw.strip() else {}
    number = body.get("Version")
    if number is not None and not isinstance(number, int):
        raise InvalidRequest("'Version' must be a version number.")
    deps = deps_of(request)
    deps.content_checks.require_spamd()
    assert who.context is not None
    use, share = _stream_use(who, body.get("MessageStream"))
    details, report = await deps.content_checks.check_version(
        deps.db,
        who.context.server,
        id_or_alias,
        number,
        sender_domain=_sender_domain(who),
        use=use,
        max_block_share=share,
    )
    return JSONResponse(
        {
            "TemplateId": details.template.id,
            "Alias": details.template.alias,
            "Version": details.version.number,
            **report_json(report),
        }
    )


def _sender_domain(who: Caller) -> str | None:
    """The server's first sending domain: the From a real send of the template would use."""
    assert who.context is not None
    return min(who.context.domains, default=None)


def _stream_use(who: Caller, stream_id: object) -> tuple[StreamUse, int | None]:
    """A MessageStream given with a check: lint for its kind (Broadcasts is commercial) and
    its share of content blocks (percent; None: the default)."""
    if not isinstance(stream_id, str) or not stream_id:
        return StreamUse.UNKNOWN, None
    assert who.context is not None
    stream = who.context.streams.get(stream_id)
    if stream is None:
        raise InvalidRequest(
            f"The 'MessageStream' {stream_id!r} does not exist on this server.",
            ErrorCode.STREAM_NOT_FOUND,
        )
    if stream.stream_type is StreamType.BROADCASTS:
        return StreamUse.COMMERCIAL, None
    return StreamUse.TRANSACTIONAL, stream.max_block_share


@router.get("/templates/{id_or_alias}/diff", summary="Misiva: diff two versions")
async def diff(
    request: Request,
    id_or_alias: str,
    who: Annotated[Caller, Depends(server_caller)],
    old: Annotated[int, Query(alias="from", ge=1)],
    new: Annotated[int, Query(alias="to", ge=1)],
) -> JSONResponse:
    text = await authoring.diff_versions(
        deps_of(request).db, _server_id(who), id_or_alias, old, new
    )
    return JSONResponse({"From": old, "To": new, "Diff": text})
