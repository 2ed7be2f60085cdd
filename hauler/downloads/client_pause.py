"""Clients paused for a fleet condition (a full disk): no new jobs until they have room.

``hauler:downloads:client:<name>:paused`` holds why and since when; selection skips a
paused client, and recovery resumes it once the client reports room again.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

KEY = "hauler:downloads:client:{name}:paused"


def pause(store: redis.Redis, name: str, reason: str, **details: Any) -> bool:
    """Mark ``name`` paused; True when it was not paused before (the caller alerts once)."""
    value = json.dumps({"reason": reason, "since": time.time(), **details})
    return bool(store.set(KEY.format(name=name), value, nx=True))


def resume(store: redis.Redis, name: str) -> bool:
    """Clear the pause; True when ``name`` was paused."""
    return bool(store.delete(KEY.format(name=name)))


def paused(store: redis.Redis, name: str) -> dict[str, Any] | None:
    """Why ``name`` is paused, or None when it takes jobs."""
    raw = store.get(KEY.format(name=name))
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"reason": "paused"}


def all_paused(store: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every paused client and why."""
    prefix, suffix = KEY.split("{name}")
    found = {}
    for key in store.scan_iter(match=KEY.format(name="*"), count=100):
        text = key.decode() if isinstance(key, bytes) else str(key)
        name = text[len(prefix) : len(text) - len(suffix)]
        info = paused(store, name)
        if info is not None:
            found[name] = info
    return found
