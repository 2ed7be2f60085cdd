"""Health: the ping probe every queue answers; the checks and healing live in submodules."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from hauler.errors import InvalidArgument

MAX_PING_DELAY = 30.0


def ran_on(request: Any, default: str) -> str:
    """The queue a task request was delivered from (its routing key), else ``default``."""
    delivery = getattr(request, "delivery_info", None) or {}
    queue = delivery.get("routing_key")
    return str(queue) if queue else default


def ping(delay: float = 0.0, *, queue: str = "health") -> dict[str, Any]:
    """Answer where and when this ran, after sleeping ``delay`` seconds (at most 30).

    Raises:
        InvalidArgument: ``delay`` is not a number from 0 to 30.
    """
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise InvalidArgument("delay", f"must be a number of seconds, got {type(delay).__name__}")
    if not 0 <= delay <= MAX_PING_DELAY:
        raise InvalidArgument("delay", f"must be between 0 and {MAX_PING_DELAY:g} seconds")
    if delay:
        time.sleep(delay)
    return {
        "pong": True,
        "queue": queue,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "at": datetime.now(UTC).isoformat(),
    }
