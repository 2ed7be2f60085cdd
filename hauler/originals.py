"""A dead letter's arguments as the task got them, kept in the broker for its retry.

What the dead-letter store keeps is masked (secrets) and capped (size); a retry that
sent that copy would run the task with ``***`` for a password or a cut string. When the
stored copy differs from what the task got, the originals are kept here — in the broker,
where the message itself already was — for :data:`KEEP_SECONDS`, and ``hauler dlq retry``
sends them. Past that, a letter whose arguments were altered is refused for retry.
"""

from __future__ import annotations

import json
from typing import Any

from hauler import broker

#: How long the originals of an altered dead letter are kept (30 days).
KEEP_SECONDS = 30 * 86400


def key(task_id: str) -> str:
    """The Redis key of a task's original arguments."""
    return f"hauler:dead-letters:original:{task_id}"


def keep(broker_url: str, task_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Keep ``args``/``kwargs`` of ``task_id`` for :data:`KEEP_SECONDS`."""
    payload = json.dumps({"args": args, "kwargs": kwargs}, default=str)
    broker.shared(broker_url).set(key(task_id), payload, ex=KEEP_SECONDS)


def load(broker_url: str, task_id: str) -> tuple[list[Any], dict[str, Any]] | None:
    """The kept arguments of ``task_id``, or None when there are none (any more)."""
    raw = broker.shared(broker_url).get(key(task_id))
    if raw is None:
        return None
    value = json.loads(raw)
    return list(value["args"]), dict(value["kwargs"])


def forget(broker_url: str, task_id: str) -> None:
    """Drop the kept arguments of ``task_id`` (its letter was purged)."""
    broker.shared(broker_url).delete(key(task_id))
