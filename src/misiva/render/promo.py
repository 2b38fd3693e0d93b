"""`promo_code('WELCOME10')` in templates: found in the syntax tree before any message, so the
accept path can allocate each recipient's code in the database first; at render the call is
then a plain lookup in what was allocated (rendering stays synchronous and pure)."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateRuntimeError, nodes, pass_context
from jinja2.runtime import Context

PROMO_FUNCTION = "promo_code"
# Where the accept path puts the allocated codes (pool key -> code, fallback text or "").
# A leading underscore, like the locale's variable: not a name a template model should use.
PROMO_VAR = "_promo_codes"


def promo_calls(tree: nodes.Template) -> frozenset[str]:
    """The pool keys a template names in `promo_code('KEY')` calls."""
    return frozenset(
        call.args[0].value
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name)
        and call.node.name == PROMO_FUNCTION
        and call.args
        and isinstance(call.args[0], nodes.Const)
        and isinstance(call.args[0].value, str)
    )


@pass_context
def promo_code(context: Context, key: Any) -> str:
    """The recipient's code from pool `key`, as allocated before rendering. A preview or a
    test render has no recipient and allocates nothing: it shows `KEY-PREVIEW`."""
    codes = context.get(PROMO_VAR)
    if codes is None:
        return f"{key}-PREVIEW"
    if key not in codes:
        raise TemplateRuntimeError(
            f"promo_code({key!r}): no code was allocated; write the pool's key as a literal "
            "string, as in promo_code('WELCOME10')"
        )
    return str(codes[key])
