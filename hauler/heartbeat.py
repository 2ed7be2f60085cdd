"""A process's heartbeat in Redis: one JSON document under a key that expires."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any


def write(client: Any, key: str, ttl: int, at: float | None = None, **fields: Any) -> None:
    """Note that this process (host, pid) is alive ``at`` (now), with ``fields``; the note
    goes away ``ttl`` seconds after the last one."""
    value = {"host": socket.gethostname(), "pid": os.getpid(), "at": at or time.time(), **fields}
    client.set(key, json.dumps(value), ex=ttl)


def document(client: Any, key: str) -> dict[str, Any] | None:
    """The JSON object stored under ``key``; None when there is none or it is not one."""
    raw = client.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read(client: Any, key: str) -> dict[str, Any] | None:
    """The newest heartbeat under ``key``; None when there is none or it has no numeric ``at``."""
    value = document(client, key)
    return value if value is not None and isinstance(value.get("at"), int | float) else None
