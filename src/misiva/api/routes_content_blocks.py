"""Content blocks over HTTP (Misiva's own API; docs/offers-content-blocks.md): create, read,
change, delete, the rule tester, and each block's results per variant."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from misiva.api.auth import deps_of, server_caller
from misiva.api.deps import Caller
from misiva.api.params import RowId
from misiva.api.responses import JSONResponse
from misiva.api.routes_conversions import comparison_json, funnel_json
from misiva.api.routes_email import read_json
from misiva.authoring.content_blocks import ContentBlocks, parse_time
from misiva.domain.content_blocks import (
    DEFAULT_VARIANT,
    SPLIT_TOTAL,
    BlockContent,
    BlockVariant,
    ContentBlock,
    NewContentBlock,
)
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.feedback.offer_results import block_results
from misiva.ingest.templated import contact_namespace

router = APIRouter(tags=["content blocks"])
# A block is a snippet, not a newsletter: its body stays well under Gmail's clip.
_BODY_LIMIT = 256 * 1024


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def _server_id(who: Caller) -> int:
    assert who.context is not None
    return who.context.server.id


def _service(request: Request) -> ContentBlocks:
    deps = deps_of(request)
    return ContentBlocks(deps.db, clock=deps.clock)


def block_json(block: ContentBlock) -> dict[str, Any]:
    return {
        "ID": block.id,
        "Key": block.key,
        "Slot": block.slot,
        "Rule": block.rule,
        "Priority": block.priority,
        "StartsAt": block.starts_at.isoformat() if block.starts_at else None,
        "EndsAt": block.ends_at.isoformat() if block.ends_at else None,
        "Variants": [
            {
                "Name": v.name,
                "Split": v.split,
                "Contents": {
                    locale: {"HtmlBody": c.html, "MjmlBody": c.mjml}
                    for locale, c in v.contents.items()
                },
            }
            for v in block.variants
        ],
        "CreatedAt": block.created_at.isoformat(),
        "UpdatedAt": block.updated_at.isoformat(),
    }


def _time(body: dict[str, Any], name: str, fallback: datetime | None) -> datetime | None:
    if name not in body:
        return fallback
    return parse_time(body[name], name)


def _contents(value: Any, where: str) -> dict[str, BlockContent]:
    if not isinstance(value, dict) or not value:
        raise _invalid(f"'{where}' must map locales ('es', 'default') to their content.")
    out = {}
    for locale, content in value.items():
        if not isinstance(content, dict):
            raise _invalid(f"'{where}.{locale}' must hold HtmlBody or MjmlBody.")
        html, mjml = content.get("HtmlBody"), content.get("MjmlBody")
        if not isinstance(html, str) and not isinstance(mjml, str):
            raise _invalid(f"'{where}.{locale}' must hold HtmlBody or MjmlBody.")
        out[str(locale)] = BlockContent(
            html=html if isinstance(html, str) else "",
            mjml=mjml if isinstance(mjml, str) else None,
        )
    return out


def _variants(body: dict[str, Any]) -> tuple[BlockVariant, ...]:
    """`Variants` ([{Name, Split, Contents}]), or `Contents` alone for a block without A/B."""
    if "Variants" not in body:
        return (
            BlockVariant(DEFAULT_VARIANT, SPLIT_TOTAL, _contents(body.get("Contents"), "Contents")),
        )
    given = body["Variants"]
    if not isinstance(given, list) or not given:
        raise _invalid("'Variants' must be a list of {Name, Split, Contents}.")
    out = []
    for index, item in enumerate(given):
        if not isinstance(item, dict) or not isinstance(item.get("Split"), int):
            raise _invalid(f"'Variants[{index}]' needs a Name and a whole-number Split.")
        name = str(item.get("Name") or chr(ord("A") + index))
        out.append(BlockVariant(name, item["Split"], _contents(item.get("Contents"), name)))
    return tuple(out)


def _new_block(body: Any, base: ContentBlock | None = None) -> NewContentBlock:
    """A block from a request body; on PATCH, the fields not given keep `base`'s values."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    given_variants = "Variants" in body or "Contents" in body
    priority = body.get("Priority", base.priority if base else 0)
    if not isinstance(priority, int):
        raise _invalid("'Priority' must be a whole number.")
    new = NewContentBlock(
        key=str(body.get("Key", base.key if base else "")),
        slot=str(body.get("Slot", base.slot if base else "")),
        variants=_variants(body) if given_variants or base is None else base.variants,
        rule=body.get("Rule", base.rule if base else None) or None,
        priority=priority,
        starts_at=_time(body, "StartsAt", base.starts_at if base else None),
        ends_at=_time(body, "EndsAt", base.ends_at if base else None),
    )
    return replace(new, rule=str(new.rule) if new.rule is not None else None)


@router.post("/content-blocks", summary="Create a content block")
async def create_block(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    block = await _service(request).create(_server_id(who), _new_block(body))
    return JSONResponse(block_json(block))


@router.get("/content-blocks", summary="Content blocks (slot=... to filter)")
async def list_blocks(
    request: Request, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    slot = request.query_params.get("slot") or None
    blocks = await _service(request).list(_server_id(who), slot)
    return JSONResponse(
        {"TotalCount": len(blocks), "ContentBlocks": [block_json(b) for b in blocks]}
    )


@router.get("/content-blocks/{block_id}", summary="One content block")
async def get_block(
    request: Request, block_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    return JSONResponse(block_json(await _service(request).get(_server_id(who), block_id)))


@router.patch("/content-blocks/{block_id}", summary="Change a content block's given fields")
async def patch_block(
    request: Request, block_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    service = _service(request)
    base = await service.get(_server_id(who), block_id)
    block = await service.update(_server_id(who), block_id, _new_block(body, base))
    return JSONResponse(block_json(block))


@router.delete("/content-blocks/{block_id}", summary="Delete a content block")
async def delete_block(
    request: Request, block_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    await _service(request).delete(_server_id(who), block_id)
    return JSONResponse({"ErrorCode": 0, "Message": f"Content block {block_id} removed."})


@router.post("/content-blocks/{block_id}/test", summary="Test the block's rule on a contact")
async def test_block(
    request: Request, block_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    body = await read_json(request, _BODY_LIMIT)
    if not isinstance(body, dict) or not isinstance(body.get("Email"), str):
        raise _invalid("The rule tester needs an 'Email' (and optionally a 'TemplateModel').")
    model = body.get("TemplateModel") or {}
    if not isinstance(model, dict):
        raise _invalid("'TemplateModel' must be a JSON object.")
    found = await _service(request).test(
        _server_id(who), block_id, body["Email"], model, contact_namespace
    )
    return JSONResponse(
        {
            "Matches": found.matches,
            "Variant": found.variant,
            "FillsSlot": found.fills_slot,
            "ChosenBlockID": found.chosen_block_id,
        }
    )


@router.get(
    "/content-blocks/{block_id}/results", summary="Each variant's funnel, and the A/B verdict"
)
async def block_results_json(
    request: Request, block_id: RowId, who: Annotated[Caller, Depends(server_caller)]
) -> JSONResponse:
    block = await _service(request).get(_server_id(who), block_id)
    found = await block_results(deps_of(request).db, block)
    return JSONResponse(
        {
            "ID": block.id,
            "Variants": [
                {"Name": name, **funnel_json(funnel), "UniqueClicks": funnel.clicks}
                for name, funnel in found.variants
            ],
            "Comparison": comparison_json(found.comparison),
        }
    )
