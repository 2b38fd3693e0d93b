"""The sandboxed Jinja2 environments templates run in: strict, immutable, escaped for HTML."""

from __future__ import annotations

from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from misiva.render.filters import FILTERS
from misiva.render.promo import PROMO_FUNCTION, promo_code

# A template may build strings and lists, but not ones large enough to exhaust memory:
# `{{ 'x' * 10**9 }}` is refused. Real emails stay far below Gmail's 102 KB clip.
MAX_SEQUENCE_LENGTH = 1_000_000
# Bits of an integer power's result; `9 ** 9 ** 9` would otherwise run for minutes.
MAX_POWER_BITS = 100_000


class StrictChainableUndefined(StrictUndefined, ChainableUndefined):
    """Fails on any use (print, loop, test for truth) but not on attribute access, so that
    `order.note is defined` and `order.note | default('')` work when `order` itself is missing:
    a guard on a deep path guards the whole path."""

    __slots__ = ()


def _sequence_length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _too_many_bits(left: Any, right: Any) -> bool:
    if not (isinstance(left, int) and isinstance(right, int)) or right <= 0:
        return False
    return left.bit_length() * right > MAX_POWER_BITS


class MisivaSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox (no `list.append`, no `dict.update`), with size limits on `*` and
    `**`, and model keys found before dict methods (`order.items` is the model's items)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                length = _sequence_length(sequence)
                if (
                    length is not None
                    and isinstance(times, int)
                    and length * times > MAX_SEQUENCE_LENGTH
                ):
                    raise SecurityError("the result of '*' would be too large")
        elif operator == "**" and _too_many_bits(left, right):
            raise SecurityError("the result of '**' would be too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Models are JSON: a key named like a dict method ("items", "values") is what the
        # author means by `order.items`. Plain data is safe to hand out; everything else goes
        # through the sandbox's checks.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _blank_none(value: Any) -> Any:
    # JSON null renders as nothing, as in Postmark, rather than the word "None".
    return "" if value is None else value


def _empty_slot(slot: str) -> str:
    return ""


def make_environment(*, html: bool = True, trim_blocks: bool = False) -> MisivaSandbox:
    """A sandbox that escapes output for HTML (`html=True`) or leaves it as written (subject,
    text). `trim_blocks` drops the newline after a block tag and the indentation before it,
    for text derived from HTML, where each statement sits on a line of its own."""
    environment = MisivaSandbox(
        autoescape=html,
        undefined=StrictChainableUndefined,
        finalize=_blank_none,
        keep_trailing_newline=True,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
        auto_reload=False,
    )
    environment.filters.update(FILTERS)
    # A content block slot renders empty unless the send passes its chosen blocks (a
    # `block` in the render context, misiva.render.blocks); as a global, the variable
    # analyser does not ask the model for it.
    environment.globals["block"] = _empty_slot
    # `promo_code('KEY')` looks up the code allocated before rendering (misiva.render.promo).
    environment.globals[PROMO_FUNCTION] = promo_code
    return environment


# Built once: environments are immutable after setup and shared by every compiled template.
HTML_ENVIRONMENT = make_environment(html=True)
TEXT_ENVIRONMENT = make_environment(html=False)
DERIVED_TEXT_ENVIRONMENT = make_environment(html=False, trim_blocks=True)
