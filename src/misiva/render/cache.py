"""A bounded cache of compiled templates, so that each version is compiled once per process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from misiva.render.compile import CompiledTemplate

# About 100 templates per server (Postmark's limit) times a few locales and servers: the
# templates in use fit, and a compiled one is small (tens of KB).
DEFAULT_SIZE = 1024


class CompiledCache:
    """Least-recently-used, keyed by what identifies a compiled variant, e.g.
    (template_id, version, locale, layout_id, layout_version, inline_css). Keys are
    immutable versions, so entries never go stale; they only age out."""

    def __init__(self, maxsize: int = DEFAULT_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("the cache holds at least one template")
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, CompiledTemplate] = OrderedDict()
        # Renders may run in worker threads; the lock guards only the dict, never a compile.
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CompiledTemplate | None:
        with self._lock:
            compiled = self._entries.get(key)
            if compiled is not None:
                self._entries.move_to_end(key)
            return compiled

    def put(self, key: Hashable, compiled: CompiledTemplate) -> None:
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def get_or_compile(
        self, key: Hashable, compile: Callable[[], CompiledTemplate]
    ) -> CompiledTemplate:
        """The cached template, or compile it now (outside the lock: two threads may both
        compile a new version once; either result is the same)."""
        compiled = self.get(key)
        if compiled is None:
            compiled = compile()
            self.put(key, compiled)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries
