"""The recorder's heartbeat in Redis: who records, and whether it is writing, for the CLI."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

#: Redis key the running recorder refreshes every few seconds.
KEY = "hauler:recorder:heartbeat"
#: Seconds a heartbeat lives: a recorder silent for longer is taken as not running.
TTL_SECONDS = 30


def beat(client: Any, healthy: bool, detail: dict[str, Any]) -> None:
    """Note that this recorder is alive, and whether it is writing rows."""
    value = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "at": time.time(),
        "healthy": healthy,
        "database_error": detail.get("database_error"),
        "rows_written": detail.get("rows_written"),
        "rows_dropped": detail.get("rows_dropped"),
    }
    client.set(KEY, json.dumps(value), ex=TTL_SECONDS)


def last(client: Any) -> dict[str, Any] | None:
    """The newest heartbeat, or None when no recorder has beaten within the TTL."""
    raw = client.get(KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
