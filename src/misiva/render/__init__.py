"""Templates → content: sandboxed Jinja2, layouts, locales, CSS inlining and plain text."""

from misiva.render.cache import CompiledCache
from misiva.render.compile import (
    CompiledPart,
    CompiledTemplate,
    compile_template,
    html_size_warning,
)
from misiva.render.environment import make_environment
from misiva.render.errors import (
    LayoutPlaceholderError,
    MissingVariables,
    TemplateError,
    TemplateProblem,
    UnsafeTemplate,
)
from misiva.render.locales import choose_variant
from misiva.render.model import RESERVED_NAMESPACES
from misiva.render.render import check_model, render

__all__ = [
    "RESERVED_NAMESPACES",
    "CompiledCache",
    "CompiledPart",
    "CompiledTemplate",
    "LayoutPlaceholderError",
    "MissingVariables",
    "TemplateError",
    "TemplateProblem",
    "UnsafeTemplate",
    "check_model",
    "choose_variant",
    "compile_template",
    "html_size_warning",
    "make_environment",
    "render",
]
