"""Render a compiled template for one message: check the model, then fill each part."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from jinja2 import TemplateRuntimeError, UndefinedError
from jinja2.exceptions import SecurityError

from misiva.domain.templates import RenderedContent
from misiva.render.compile import CompiledPart, CompiledTemplate, html_size_warning
from misiva.render.errors import MissingVariables, TemplateError, TemplateProblem, UnsafeTemplate
from misiva.render.filters import LOCALE_VAR
from misiva.render.model import NAMESPACES, PLATFORM_VALUES, missing_paths

# A subject is one header line (RFC 5322 §2.2.3 folds long ones; a template must not break it).
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
# Errors a template's code can raise on bad data (a string where a number goes, a division
# by zero, a deep recursion): the author's or the sender's to fix, reported as a TemplateError.
_DATA_ERRORS = (TemplateRuntimeError, TypeError, ValueError, ArithmeticError, LookupError)


def _context(
    model: Mapping[str, Any], locale: str, namespaces: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, Any]:
    context = dict(model)
    for name in NAMESPACES:
        given = namespaces.get(name)
        if given is not None:
            context[name] = given
        elif not isinstance(context.get(name), Mapping):
            context[name] = {}
    for name in PLATFORM_VALUES:
        # A preview or test send has no recipient to sign links for: the value is empty.
        if not isinstance(context.get(name), str):
            context[name] = ""
    context[LOCALE_VAR] = locale
    return context


def check_model(
    compiled: CompiledTemplate,
    model: Mapping[str, Any],
    *,
    contact: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
) -> list[str]:
    """The required paths the model lacks (sorted, loop items by index): what validate and
    accept report without rendering."""
    namespaces = {"contact": contact, "server": server, "message": message}
    return missing_paths(compiled.checks, _context(model, "", namespaces))


def render(
    compiled: CompiledTemplate,
    model: Mapping[str, Any],
    *,
    locale: str,
    contact: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
) -> RenderedContent:
    """Subject, HTML and text for one message, formatted for `locale`. The recipient's
    profile, the brand and the message are the `contact`, `server` and `message` namespaces
    (given here, or in the model under those names; absent ones are empty)."""
    context = _context(model, locale, {"contact": contact, "server": server, "message": message})
    missing = missing_paths(compiled.checks, context)
    if missing:
        raise MissingVariables(missing)
    subject = _render_part(compiled.subject, context)
    html = _render_part(compiled.html, context) if compiled.html else None
    text = _render_part(compiled.text, context) if compiled.text else None
    clipped = html_size_warning(html)
    return RenderedContent(
        subject=_LINE_BREAKS.sub(" ", subject).strip(),
        html_body=html,
        text_body=text,
        locale=locale,
        warnings=(*compiled.warnings, *([clipped] if clipped else [])),
    )


def _render_part(part: CompiledPart, context: dict[str, Any]) -> str:
    try:
        output = part.template.render(context)
    except SecurityError as error:
        raise UnsafeTemplate([_problem(part, error)]) from error
    except UndefinedError as error:
        # The precheck covers what the syntax tree shows; anything else still fails here,
        # and is reported the same way, never rendered as a blank.
        raise MissingVariables([_undefined_name(error)]) from error
    except (*_DATA_ERRORS, RecursionError) as error:
        raise TemplateError([_problem(part, error)]) from error
    if part.derived:
        output = _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("", output)).strip() + "\n"
    return output


def _undefined_name(error: UndefinedError) -> str:
    match = _UNDEFINED_NAME.search(error.message or "")
    return next(filter(None, match.groups())) if match else str(error)


def _problem(part: CompiledPart, error: BaseException) -> TemplateProblem:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    line = _template_line(error.__traceback__) if part.authored_lines else None
    return TemplateProblem(part.name, message, line)


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line of the innermost template frame (Jinja rewrites tracebacks so that
    template frames carry template line numbers)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
