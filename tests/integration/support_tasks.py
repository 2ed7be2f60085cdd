"""Tasks the integration tests run in real workers (loaded with HAULER_IMPORTS)."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import redis

from hauler import activity
from hauler.errors import RetryableError
from hauler.settings import get_settings
from workers.base import hauler_task


def _redis() -> redis.Redis:
    return redis.Redis.from_url(get_settings().broker_url)


@hauler_task("tests.flaky", queue="health", max_retries=3)
def flaky(key: str, fail_times: int) -> dict[str, Any]:
    """Fail with a retryable error ``fail_times`` times (unless healed), then succeed."""
    client = _redis()
    attempt = client.incr(f"flaky:{key}:count")
    client.rpush(f"flaky:{key}:times", time.time())
    if attempt <= fail_times and not client.exists(f"flaky:{key}:healed"):
        raise RetryableError(f"attempt {attempt} of {key} failed on purpose")
    return {"key": key, "attempts": attempt}


@hauler_task("tests.slow", queue="health")
def slow(key: str, seconds: float) -> dict[str, Any]:
    """Sleep ``seconds``, noting start and finish (with host and pid) in Redis."""
    client = _redis()
    me = {"node": socket.gethostname(), "pid": os.getpid(), "worker": os.environ.get("TEST_NODE")}
    client.rpush(f"slow:{key}:started", json.dumps(me))
    time.sleep(seconds)
    client.rpush(f"slow:{key}:finished", json.dumps(me))
    return {"key": key, **me}


@hauler_task("tests.parent", queue="health")
def parent(key: str) -> str:
    """Start ``tests.child`` and record a domain event; return the child's id."""
    activity.emit("test.parent-ran", key=key)
    child_result = child.delay(key)
    return str(child_result.id)


@hauler_task("tests.child", queue="health")
def child(key: str) -> dict[str, Any]:
    """Record a domain event and note the key."""
    activity.emit("test.child-ran", key=key)
    _redis().set(f"child:{key}", "ran")
    return {"key": key}


@hauler_task("tests.touch", queue="health")
def touch(key: str) -> str:
    """Set a Redis key, so a test can see whether the task ran at all."""
    _redis().set(f"touch:{key}", "ran")
    return key


def _recorder() -> redis.Redis:
    """Where executions are noted: a Redis that stays up while the broker is restarted."""
    return redis.Redis.from_url(os.environ.get("TEST_RECORD_URL") or get_settings().broker_url)


@hauler_task("tests.record", queue="health")
def record(key: str, seconds: float = 0.0) -> dict[str, Any]:
    """Idempotent: note the start, sleep ``seconds``, note the finish (one entry per execution).

    Starts go to ``record:<key>:started`` and to ``record:order`` (the order tasks began
    in); finishes to ``record:<key>:finished``.
    """
    client = _recorder()
    me = json.dumps({"worker": os.environ.get("TEST_NODE"), "pid": os.getpid(), "at": time.time()})
    client.rpush(f"record:{key}:started", me)
    client.rpush("record:order", key)
    time.sleep(seconds)
    client.rpush(f"record:{key}:finished", me)
    return {"key": key}


@hauler_task("tests.note", queue="health")
def note(value: Any, key: str) -> Any:
    """Append ``value`` (JSON) to the Redis list ``note:<key>`` and return it: a step that
    shows what a canvas handed it."""
    _redis().rpush(f"note:{key}", json.dumps(value))
    return value
