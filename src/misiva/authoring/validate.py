"""POST /templates/validate: compile and test-render content, in Postmark's response shape."""

from __future__ import annotations

from typing import Any

from misiva.authoring.checks import check_content
from misiva.authoring.content_checks import lint_rendered
from misiva.authoring.content_json import lint_json
from misiva.authoring.lines import missing_problems
from misiva.authoring.templates import layout_content
from misiva.domain.content import LintFinding, StreamUse
from misiva.domain.errors import MisivaError
from misiva.domain.templates import TemplateContent, TemplateType
from misiva.render.errors import MissingVariables, TemplateError
from misiva.render.render import render
from misiva.storage import Database

_PARTS = ("Subject", "HtmlBody", "TextBody")


async def validate_template(
    db: Database,
    server_id: int,
    body: dict[str, Any],
    *,
    use: StreamUse = StreamUse.UNKNOWN,
    max_block_share: int | None = None,
) -> dict[str, Any]:
    """Postmark's response, plus Misiva's `Warnings` and `Lint` (content lint findings of the
    test render: docs/deliverability-content.md); `use` is the stream kind it is linted for,
    `max_block_share` that stream's share of content blocks (percent; None: the default)."""
    kind = (
        TemplateType.LAYOUT
        if str(body.get("TemplateType") or "").lower() == "layout"
        else TemplateType.STANDARD
    )
    content = TemplateContent(
        subject=body.get("Subject") or "",
        html_body=body.get("HtmlBody"),
        text_body=body.get("TextBody"),
        mjml_body=body.get("MjmlBody"),
    )
    locale = body.get("Locale") or "en"
    model = body.get("TestRenderModel") or {}
    errors: dict[str, list[dict[str, Any]]] = {part: [] for part in _PARTS}
    rendered: dict[str, str | None] = dict.fromkeys(_PARTS)
    suggested: dict[str, Any] = {}
    warnings: list[str] = []
    findings: tuple[LintFinding, ...] = ()
    try:
        async with db.transaction() as tx:
            layout = await layout_content(tx, server_id, body.get("LayoutTemplate"))
        compiled = check_content(kind, content, layout, locale)
        suggested = compiled.suggested_model()
        result = render(compiled, _with_namespaces(model), locale=locale)
        rendered = {
            "Subject": result.subject,
            "HtmlBody": result.html_body,
            "TextBody": result.text_body,
        }
        warnings = list(result.warnings)
        findings = lint_rendered(result, content, compiled.paths, use, max_block_share)
    except TemplateError as error:
        for problem in error.errors:
            errors.setdefault(problem.part, []).append(
                {
                    "Message": problem.message,
                    "Line": problem.line,
                    "CharacterPosition": problem.column,
                }
            )
    except MissingVariables as error:
        # Each missing variable where it is first read, as a syntax error is reported.
        for missing in missing_problems(error.missing, content):
            part = "HtmlBody" if missing.part in (None, "MjmlBody") else missing.part
            errors[part].append(
                {"Message": missing.message, "Line": missing.line, "CharacterPosition": None}
            )
    except MisivaError as error:
        errors["HtmlBody"].append(
            {"Message": error.message, "Line": None, "CharacterPosition": None}
        )
    given = {
        "Subject": content.subject,
        "HtmlBody": content.html_body or content.mjml_body,
        "TextBody": content.text_body,
    }
    response: dict[str, Any] = {
        part: None
        if not given[part] and not errors[part]
        else {
            "ContentIsValid": not errors[part],
            "ValidationErrors": errors[part],
            "RenderedContent": rendered[part],
        }
        for part in _PARTS
    }
    response["AllContentIsValid"] = not any(errors.values())
    response["SuggestedTemplateModel"] = suggested
    response["Warnings"] = warnings
    response["Lint"] = [lint_json(f) for f in findings]
    return response


def _with_namespaces(model: dict[str, Any]) -> dict[str, Any]:
    """A test render sees sample `contact`, `server` and `message` unless the model gives them."""
    return {
        "contact": {"email": "preview@example.com"},
        "server": {"name": "preview", "brand": {}},
        "message": {"id": "preview", "stream": "outbound", "locale": "en"},
        **model,
    }
