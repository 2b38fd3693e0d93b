"""Check a model against the paths a template reads, and suggest a model for a template."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from misiva.render.variables import ITEM, Path

# The platform fills these namespaces (the recipient's profile, the brand, the message), so
# they are never missing themselves; what a template reads inside them is checked as usual.
NAMESPACES = frozenset({"contact", "server", "message"})
# And these values: the recipient's own subscription links ("" where none can be signed).
PLATFORM_VALUES = frozenset({"unsubscribe_url", "preferences_url"})
RESERVED_NAMESPACES = NAMESPACES | PLATFORM_VALUES


def dotted(path: Path) -> str:
    """("order", "lines", ITEM, "name") → "order.lines[].name"."""
    text = ""
    for segment in path:
        text += segment if segment == ITEM or not text else f".{segment}"
    return text


def before_items(path: Path) -> Path:
    """The part of a path that the model itself must hold: `order.lines` for a loop's items."""
    return path[: path.index(ITEM)] if ITEM in path else path


def leaves(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Drop each path that another extends: `order.total` implies `order`."""
    unique = set(paths)
    return tuple(sorted(p for p in unique if not any(q != p and q[: len(p)] == p for q in unique)))


def _missing_under(value: Any, path: Path, shown: str, found: list[str]) -> None:
    """Walk one path through the model. None is present (JSON null renders as nothing);
    a loop's items are each checked; a value that is not a list is left to the renderer."""
    for position, segment in enumerate(path):
        if segment == ITEM:
            if isinstance(value, list | tuple):
                for index, item in enumerate(value):
                    _missing_under(item, path[position + 1 :], f"{shown}[{index}]", found)
            return
        if not isinstance(value, Mapping) or segment not in value:
            rest = dotted(before_items(path[position:]))
            found.append(f"{shown}.{rest}" if shown else rest)
            return
        value = value[segment]
        shown = f"{shown}.{segment}" if shown else segment


def missing_paths(checks: Iterable[Path], model: Mapping[str, Any]) -> list[str]:
    """Every required path the model lacks, as dotted paths (items by index), sorted."""
    found: list[str] = []
    for path in checks:
        if len(path) == 1 and path[0] in RESERVED_NAMESPACES:
            continue
        _missing_under(model, path, "", found)
    return sorted(set(found))


def _placeholder_value(name: str) -> str:
    return f"{name}_Value"


def suggested_model(paths: Iterable[Path], *, include_reserved: bool = False) -> dict[str, Any]:
    """Postmark's SuggestedTemplateModel: objects for dotted paths, a one-item list for a loop,
    "{name}_Value" for every scalar."""
    root: dict[str, Any] = {}
    for path in sorted(paths, key=len):
        if path[0] in RESERVED_NAMESPACES and not include_reserved:
            continue
        node: Any = root
        for position, segment in enumerate(path):
            last = position == len(path) - 1
            following = None if last else path[position + 1]
            node = _descend(node, segment, following, path[position - 1] if position else segment)
    return root


def _descend(node: Any, segment: str, following: str | None, name_above: str) -> Any:
    """Step into (creating or widening) the child of `node` for `segment`; the next segment
    decides its shape: a list for ITEM, an object for a key, a placeholder at the end."""
    wanted: Any
    if following is None:
        wanted = _placeholder_value(name_above if segment == ITEM else segment)
    elif following == ITEM:
        wanted = []
    else:
        wanted = {}
    if segment == ITEM:
        if not node or (isinstance(node[0], str) and not isinstance(wanted, str)):
            node[:] = [wanted]
        return node[0]
    current = node.get(segment)
    if current is None or (isinstance(current, str) and not isinstance(wanted, str)):
        node[segment] = wanted
    return node[segment]
