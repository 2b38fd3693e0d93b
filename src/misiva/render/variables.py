"""Read a template's syntax tree: the model paths it needs, those it guards, what it may not do.

A path is a tuple of keys; ITEM stands for "each item of this list", so that
`{% for line in order.lines %}{{ line.name }}` uses ("order", "lines", ITEM, "name").
A use is OPTIONAL, not required, when it is guarded:
  * the path (or a path above or below it) is tested with `is defined` / `is undefined`
    in the condition of an `{% if %}` (or `elif`) or an inline `x if ... else y`: the guard
    covers that whole if-statement, every branch;
  * the path is the value of the `default` (or `d`) filter: `{{ order.note | default('') }}`;
  * it is an item attribute in a loop with a condition (`{% for x in xs if x.shown %}`),
    since not every item reaches the body.
`{% if x %}` alone is not a guard: with StrictUndefined, testing a missing value fails.
Names bound by `{% for %}`, `{% set %}`, `{% with %}`, macros and call blocks are local; a
local bound to a model path (`{% set o = order %}`) stands for that path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from jinja2 import nodes

from misiva.render.filters import LOCALE_VAR

ITEM = "[]"
Path = tuple[str, ...]
Scope = dict[str, Path | None]

_SPECIAL_NAMES = frozenset({"self", LOCALE_VAR})
_DEFAULT_FILTERS = frozenset({"default", "d"})
_DEFINED_TESTS = frozenset({"defined", "undefined"})
# A loop over `xs | sort(...)` sees the same items as a loop over `xs`.
_ITEM_PRESERVING_FILTERS = frozenset({"sort", "reverse", "list", "unique"})
_UNSUPPORTED = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


@dataclass
class Usage:
    """The paths a template reads: unguarded (required) and guarded (optional)."""

    required: set[Path] = field(default_factory=set)
    optional: set[Path] = field(default_factory=set)


def _related(path: Path, guards: frozenset[Path]) -> bool:
    return any(g[: len(path)] == path or path[: len(g)] == g for g in guards)


class _Analyzer:
    """Walks statements in order, with the names bound so far (the scope) and the paths
    guarded by enclosing `is defined` tests."""

    def __init__(self, globals_: Iterable[str]) -> None:
        self.globals = frozenset(globals_)
        self.usage = Usage()

    def path(self, node: nodes.Node, scope: Scope) -> Path | None:
        """The model path an expression reads, or None (a local, a literal, a computation)."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            if node.name in _SPECIAL_NAMES or node.name in self.globals:
                return None
            return (node.name,)
        if isinstance(node, nodes.Getattr):
            base = self.path(node.node, scope)
            return None if base is None else (*base, node.attr)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
            base = self.path(node.node, scope) if isinstance(key, str) else None
            return None if base is None else (*base, key)
        return None

    def use(self, path: Path, guards: frozenset[Path]) -> None:
        target = self.usage.optional if _related(path, guards) else self.usage.required
        target.add(path)

    def guards_in(self, test: nodes.Node, scope: Scope) -> set[Path]:
        found = set()
        tests = [test] if isinstance(test, nodes.Test) else []
        for node in [*tests, *test.find_all(nodes.Test)]:
            path = self.path(node.node, scope) if node.name in _DEFINED_TESTS else None
            if path is not None:
                found.add(path)
        return found

    def expression(self, node: nodes.Node, scope: Scope, guards: frozenset[Path]) -> None:
        path = self.path(node, scope)
        if path is not None:
            self.use(path, guards)
            return
        if isinstance(node, nodes.Filter | nodes.Test) and node.node is not None:
            guarded = node.name in (_DEFAULT_FILTERS | _DEFINED_TESTS)
            inner = self.path(node.node, scope) if guarded else None
            if inner is not None:
                self.usage.optional.add(inner)
                self.children(node, scope, guards, skip=node.node)
                return
        if isinstance(node, nodes.CondExpr):
            guards = guards | self.guards_in(node.test, scope)
        if isinstance(node, nodes.Call):
            callee = self.path(node.node, scope)
            if callee is not None:
                # `order.items()` or `name.upper()`: a method of the value at the path above.
                if len(callee) > 1:
                    self.use(callee[:-1], guards)
                self.children(node, scope, guards, skip=node.node)
                return
        self.children(node, scope, guards)

    def children(
        self,
        node: nodes.Node,
        scope: Scope,
        guards: frozenset[Path],
        skip: nodes.Node | None = None,
    ) -> None:
        for child in node.iter_child_nodes():
            if child is skip:
                continue
            if isinstance(child, nodes.Stmt):
                self.statement(child, scope, guards)
            else:
                self.expression(child, scope, guards)

    def statements(self, body: list[nodes.Node], scope: Scope, guards: frozenset[Path]) -> None:
        for node in body:
            self.statement(node, scope, guards)

    def statement(self, node: nodes.Node, scope: Scope, guards: frozenset[Path]) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.expression(child, scope, guards)
        elif isinstance(node, nodes.If):
            self.if_statement(node, scope, guards)
        elif isinstance(node, nodes.For):
            self.for_loop(node, scope, guards)
        elif isinstance(node, nodes.Assign):
            self.expression(node.node, scope, guards)
            self.bind(node.target, scope, self.path(node.node, scope))
        elif isinstance(node, nodes.AssignBlock):
            self.statements(node.body, scope, guards)
            if node.filter is not None:
                self.expression(node.filter, scope, guards)
            self.bind(node.target, scope, None)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self.expression(value, scope, guards)
                self.bind(target, inner, self.path(value, scope))
            self.statements(node.body, inner, guards)
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            self.callable_body(node, scope, guards)
        elif isinstance(node, _UNSUPPORTED):
            return
        elif isinstance(node, nodes.Block | nodes.Scope | nodes.ScopedEvalContextModifier):
            self.statements(node.body, dict(scope), guards)
        else:
            self.children(node, scope, guards)

    def if_statement(self, node: nodes.If, scope: Scope, guards: frozenset[Path]) -> None:
        branches = [node, *node.elif_]
        for branch in branches:
            guards = guards | self.guards_in(branch.test, scope)
        for branch in branches:
            self.expression(branch.test, scope, guards)
            self.statements(branch.body, scope, guards)
        self.statements(node.else_, scope, guards)

    def for_loop(self, node: nodes.For, scope: Scope, guards: frozenset[Path]) -> None:
        self.expression(node.iter, scope, guards)
        source = self.path(node.iter, scope)
        if isinstance(node.iter, nodes.Filter) and node.iter.name in _ITEM_PRESERVING_FILTERS:
            source = self.path(node.iter.node, scope) if node.iter.node else None
        item = None if source is None else (*source, ITEM)
        inner = dict(scope)
        inner["loop"] = None
        self.bind(node.target, inner, item)
        body_guards = guards
        if node.test is not None:
            self.expression(node.test, inner, guards)
            body_guards = guards if item is None else guards | {item}
        self.statements(node.body, inner, body_guards)
        self.statements(node.else_, scope, guards)

    def callable_body(
        self, node: nodes.Macro | nodes.CallBlock, scope: Scope, guards: frozenset[Path]
    ) -> None:
        if isinstance(node, nodes.Macro):
            scope[node.name] = None
        else:
            self.expression(node.call, scope, guards)
        for default in node.defaults:
            self.expression(default, scope, guards)
        inner = dict(scope)
        for name in ("caller", "varargs", "kwargs", *(arg.name for arg in node.args)):
            inner[name] = None
        self.statements(node.body, inner, guards)

    @staticmethod
    def bind(target: nodes.Node, scope: Scope, path: Path | None) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = path
        else:  # a tuple target (`for key, value in ...`) or a namespace attribute
            for name in target.find_all(nodes.Name):
                scope[name.name] = None


def analyse(template: nodes.Template, globals_: Iterable[str]) -> Usage:
    """The paths a parsed template reads: required (unguarded) and optional (guarded)."""
    analyzer = _Analyzer(globals_)
    analyzer.statements(template.body, {}, frozenset())
    return analyzer.usage


def _internal(name: object) -> bool:
    # Dunders and name-mangled privates: `__class__`, `_TemplateReference__context`. A JSON
    # key such as `_id` is data (the sandbox gives it out of a dict) and stays allowed.
    return isinstance(name, str) and name[:1] == "_" and "__" in name


def refusals(template: nodes.Template) -> list[tuple[str, int]]:
    """What the sandbox would refuse, found before any message: the ways to Python internals.
    The sandbox refuses them again at render, with any other attribute of an object that
    starts with an underscore."""
    found = []
    for node in template.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            first = node.args[0]
            name = first.value if isinstance(first, nodes.Const) else None
        if _internal(name):
            found.append((f"access to the attribute {name!r} is not allowed", node.lineno))
    return found


def unsupported(template: nodes.Template) -> list[tuple[str, int]]:
    """Tags that would load other templates: a template is self-contained (use a layout)."""
    return [
        (f"'{type(node).__name__.lower()}' is not supported in templates", node.lineno)
        for node in template.find_all(_UNSUPPORTED)
    ]
