"""Receipts of finished uploads, kept in Redis so a redelivered task does not send twice.

A worker that dies after an upload but before the broker hears of it has its message
delivered again. The receipt, keyed by task id, answers that second run with the first
run's result, even when ``delete_after`` already removed the file.
"""

from __future__ import annotations

import json
from typing import Any

from hauler import broker

PREFIX = "hauler:uploads:receipt:"


def find(redis_url: str, task_id: str, path: Any, destination: Any) -> dict[str, Any] | None:
    """The result of the finished upload ``task_id`` of ``path`` to ``destination``, if any."""
    raw = broker.shared(redis_url).get(PREFIX + task_id)
    if raw is None:
        return None
    receipt = json.loads(raw)
    if receipt.get("path") != path or receipt.get("destination") != destination:
        return None  # the same id reused for other work: not a redelivery
    result: dict[str, Any] = receipt["result"]
    return result


def keep(
    redis_url: str, task_id: str, path: str, destination: str, result: dict[str, Any], ttl: int
) -> None:
    """Remember ``result`` for ``ttl`` seconds as the outcome of ``task_id``."""
    receipt = {"path": path, "destination": destination, "result": result}
    broker.shared(redis_url).set(PREFIX + task_id, json.dumps(receipt), ex=ttl)
