"""Receipts of finished extractions, in Redis, so a redelivered task does not extract twice.

A worker that dies after the rename but before the broker hears of it has its message
delivered again; the receipt, keyed by task id, answers with the first run's result —
also when ``delete_after`` already removed the archive.
"""

from __future__ import annotations

import json
from typing import Any

from hauler import broker

PREFIX = "hauler:archives:receipt:"


def find(redis_url: str, task_id: str, path: Any) -> dict[str, Any] | None:
    """The result of the finished extraction ``task_id`` of ``path``, if there is one."""
    raw = broker.shared(redis_url).get(PREFIX + task_id)
    if raw is None:
        return None
    receipt = json.loads(raw)
    if receipt.get("path") != path:
        return None  # the same id reused for other work: not a redelivery
    result: dict[str, Any] = receipt["result"]
    return result


def keep(redis_url: str, task_id: str, path: str, result: dict[str, Any], ttl: int) -> None:
    """Remember ``result`` for ``ttl`` seconds as the outcome of ``task_id``."""
    receipt = {"path": path, "result": result}
    broker.shared(redis_url).set(PREFIX + task_id, json.dumps(receipt), ex=ttl)
