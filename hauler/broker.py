"""Read queue depth and latency straight from the Redis broker's lists."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis

from hauler.correlation import PUBLISHED_AT_HEADER
from hauler.errors import ServiceUnavailable

#: kombu's Redis transport keeps one list per priority step: "<queue>" for priority 0
#: and "<queue>\x06\x16<step>" for the others (steps 3, 6 and 9 by default).
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


def priority_keys(queue: str) -> list[str]:
    """Every Redis list that holds waiting messages of ``queue``."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


@dataclass(frozen=True)
class QueueSample:
    """One reading of a queue."""

    queue: str
    depth: int  # waiting messages across all priority lists (not the unacked ones)
    latency: float  # age in seconds of the oldest waiting message; 0 when empty
    at: float  # when it was read (UNIX seconds)


def sample(client: redis.Redis, queue: str, now: float | None = None) -> QueueSample:
    """Read depth and oldest-message age of ``queue`` in one round trip."""
    keys = priority_keys(queue)
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        for key in keys:
            pipe.lindex(key, -1)  # kombu LPUSHes and BRPOPs: the oldest is at the tail
        replies = pipe.execute()
    now = time.time() if now is None else now
    depth = sum(int(n) for n in replies[: len(keys)])
    published = [_published_at(raw) for raw in replies[len(keys) :] if raw is not None]
    known = [p for p in published if p is not None]
    latency = max(0.0, now - min(known)) if known else 0.0
    return QueueSample(queue=queue, depth=depth, latency=latency, at=now)


def _published_at(raw: bytes) -> float | None:
    try:
        message: dict[str, Any] = json.loads(raw)
        value = message.get("headers", {}).get(PUBLISHED_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


@lru_cache(maxsize=8)
def shared(url: str) -> redis.Redis:
    """The process's Redis client for ``url``: one connection pool, however many tasks ask.

    redis-py's pool notices a fork (it compares the pid) and opens fresh connections in
    the child, so a client made before Celery forks its pool processes is safe to use in
    them. A Redis that stops answering fails a command after 10 s instead of hanging it.
    """
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


def connect(url: str) -> redis.Redis:
    """The process's Redis client for ``url`` (``shared``), once it has answered a PING.

    Raises:
        ServiceUnavailable: Redis is not reachable; the message says what to do.
    """
    client = shared(url)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise ServiceUnavailable(
            f"Redis at {url} is unreachable ({exc}); start it (redis-server) or set "
            "HAULER_BROKER_URL"
        ) from None
    return client
