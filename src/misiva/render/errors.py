"""What can go wrong turning a template into content, as domain errors with Postmark codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import MisivaError


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One problem in one part, located as Postmark's ValidationErrors are (Line, Position)."""

    part: str  # "Subject" | "HtmlBody" | "TextBody" | "MjmlBody"
    message: str
    line: int | None = None
    column: int | None = None

    def describe(self) -> str:
        where = f" line {self.line}" if self.line is not None else ""
        return f"{self.part}{where}: {self.message}"


class TemplateError(MisivaError):
    """A template that cannot be compiled or rendered (Postmark's 1122)."""

    error_code = ErrorCode.TEMPLATE_INVALID

    def __init__(self, errors: Iterable[TemplateProblem], message: str | None = None) -> None:
        self.errors = list(errors)
        text = message or "; ".join(problem.describe() for problem in self.errors)
        super().__init__(text or "The template is invalid.")


class UnsafeTemplate(TemplateError):
    """A template that reaches for Python internals; the sandbox refuses it."""


class LayoutPlaceholderError(TemplateError):
    """A layout without exactly one content placeholder, or a template with one (1131)."""

    error_code = ErrorCode.LAYOUT_PLACEHOLDER


class MissingVariables(MisivaError):
    """A model lacking variables the template needs: refused, never rendered as a blank."""

    error_code = ErrorCode.INVALID_REQUEST

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = sorted(set(missing))
        noun = "variable" if len(self.missing) == 1 else "variables"
        super().__init__(
            f"The TemplateModel is missing required {noun}: {', '.join(self.missing)}."
        )
