"""Beat's heartbeat in Redis: the lock-holding beat notes each tick, the health check reads it."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

#: Redis key the ticking beat refreshes (only the beat holding the single-beat lock ticks).
BEAT_KEY = "hauler:beat:heartbeat"
#: Seconds a beat heartbeat lives after its last tick.
BEAT_TTL_SECONDS = 3600


def beat_ticked(client: Any, now: float | None = None) -> None:
    """Note that this beat ticked now."""
    value = {"host": socket.gethostname(), "pid": os.getpid(), "at": now or time.time()}
    client.set(BEAT_KEY, json.dumps(value), ex=BEAT_TTL_SECONDS)


def last_beat(client: Any) -> dict[str, Any] | None:
    """The newest beat heartbeat, or None when no beat ticked within the TTL."""
    raw = client.get(BEAT_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("at"), int | float) else None
