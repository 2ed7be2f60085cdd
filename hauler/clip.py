"""Values made fit to store: strings and structures capped with a marker, text made encodable.

Dead letters, activity rows and parked letters keep what a task was called with, but never
a megabyte of it: each string is cut at :data:`MAX_CHARS`, each list or mapping at
:data:`MAX_ITEMS`, nesting at :data:`MAX_DEPTH`, and the whole value at :data:`BUDGET`
characters; what was cut is replaced by a marker that says how much. NUL characters and
lone surrogates (which PostgreSQL and UTF-8 refuse) are written as escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_CHARS = 1000
MAX_ITEMS = 50
MAX_DEPTH = 6
BUDGET = 20_000
#: The key under which a capped mapping says how many entries were left out.
MORE_KEY = "…"


def text(value: str, limit: int = MAX_CHARS) -> str:
    """``value`` encodable as UTF-8 without NULs, cut at ``limit`` characters with a marker."""
    if len(value) > limit:
        value = value[:limit] + f"…[truncated, {len(value)} chars]"
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def clip(value: Any) -> Any:
    """A JSON-like copy of ``value`` capped in size (see the module docstring)."""
    return _Clipper().clip(value, 0)


class _Clipper:
    def __init__(self) -> None:
        self.left = BUDGET

    def clip(self, value: Any, depth: int) -> Any:
        if self.left <= 0:
            return "…[truncated]"
        if isinstance(value, str):
            cut = text(value, min(MAX_CHARS, max(self.left, 1)))
            self.left -= len(cut)
            return cut
        if value is None or isinstance(value, bool | int | float):
            self.left -= 8
            return value
        if depth >= MAX_DEPTH:
            return "…[truncated, nested too deep]"
        if isinstance(value, Mapping):
            return self._mapping(value, depth)
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            out = [self.clip(item, depth + 1) for item in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                out.append(f"…[truncated, {len(items)} items]")
            return out
        return self.clip(repr(value), depth)

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out[MORE_KEY] = f"[truncated, {len(value)} keys]"
                break
            out[text(str(key), 200)] = self.clip(item, depth + 1)
        return out
