"""Turn Celery events into activity rows, filling in each task's context as it is learnt."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hauler.activity import DOMAIN_EVENT, TASK_CONTEXT_EVENT
from hauler.clip import clip, text
from hauler.correlation import MAX_ID, clean_id
from hauler.redact import redact

#: Celery task event type → the status recorded for it.
TASK_STATUS: dict[str, str] = {
    "task-sent": "SENT",
    "task-received": "RECEIVED",
    "task-started": "STARTED",
    "task-succeeded": "SUCCESS",
    "task-failed": "FAILURE",
    "task-retried": "RETRY",
    "task-rejected": "REJECTED",
    "task-revoked": "REVOKED",
    "task-dead-lettered": "DEAD_LETTERED",
}

#: Event fields kept in the row's JSON payload, per event type.
PAYLOAD_FIELDS: dict[str, tuple[str, ...]] = {
    "task-sent": ("args", "kwargs", "retries", "eta"),
    "task-received": ("args", "kwargs", "retries", "eta"),
    "task-succeeded": ("runtime", "result"),
    "task-failed": ("exception", "traceback"),
    "task-retried": ("exception",),
    "task-rejected": ("requeue",),
    "task-revoked": ("terminated", "signum", "expired"),
    "task-dead-lettered": ("reason", "exception"),
}


@dataclass
class TaskContext:
    """What the recorder knows of one task id."""

    name: str | None = None
    queue: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None


class ContextCache:
    """task id → TaskContext, least recently used dropped past ``size``."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._items: OrderedDict[str, TaskContext] = OrderedDict()

    def learn(self, event: dict[str, Any]) -> TaskContext:
        """Merge what ``event`` says about its task into the cache; return the context."""
        uuid = task_id_of(event) or ""
        context = self._items.pop(uuid, None) or TaskContext()
        name = event.get("name") or event.get("task_name")
        context.name = text(str(name), 200)[:200] if name else context.name
        context.queue = clean_id(event.get("queue")) or context.queue
        root, parent = clean_id(event.get("root_id")), clean_id(event.get("parent_id"))
        context.correlation_id = (
            clean_id(event.get("correlation_id"))
            or context.correlation_id
            or self._root_correlation(root)
        )
        context.causation_id = clean_id(event.get("causation_id")) or context.causation_id or parent
        if uuid:
            self._items[uuid] = context
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return context

    def _root_correlation(self, root: str | None) -> str | None:
        if not root:
            return None
        known = self._items.get(root)
        return (known.correlation_id if known else None) or root


def task_id_of(event: dict[str, Any]) -> str | None:
    """The task id an event is about, as stored (printable, at most 64 characters)."""
    value = event.get("uuid") or event.get("task_id")
    return text(str(value), MAX_ID)[:MAX_ID] if value else None


def to_row(event: dict[str, Any], cache: ContextCache, now: datetime) -> dict[str, Any] | None:
    """The activity row for ``event``, or None for events that are not recorded.

    Secrets are masked and every value capped (:mod:`hauler.clip`) before it is stored.
    """
    kind = event.get("type", "")
    if kind == DOMAIN_EVENT:
        return _domain_row(event, cache, now)
    if kind == TASK_CONTEXT_EVENT:  # no row of its own: what it says fills the task's rows
        cache.learn(event)
        return None
    status = TASK_STATUS.get(kind)
    if status is None:
        return None
    context = cache.learn(event)
    payload = {key: event[key] for key in PAYLOAD_FIELDS.get(kind, ()) if key in event}
    return {
        "occurred_at": _when(event, now),
        "recorded_at": now,
        "event_type": kind,
        "task_id": task_id_of(event),
        "task_name": context.name,
        "queue": context.queue,
        "correlation_id": context.correlation_id,
        "causation_id": context.causation_id,
        "status": status,
        "hostname": _hostname(event),
        "payload": clip(redact(payload)),
    }


def _domain_row(event: dict[str, Any], cache: ContextCache, now: datetime) -> dict[str, Any]:
    context = cache.learn(event)
    return {
        "occurred_at": _when(event, now),
        "recorded_at": now,
        "event_type": text(str(event.get("kind", "domain")), 64)[:64],
        "task_id": task_id_of(event),
        "task_name": context.name,
        "queue": context.queue,
        "correlation_id": context.correlation_id,
        "causation_id": context.causation_id,
        "status": None,
        "hostname": _hostname(event),
        "payload": _mapping(clip(redact(event.get("payload") or {}))),
    }


def _hostname(event: dict[str, Any]) -> str | None:
    value = event.get("hostname")
    return text(str(value), 200)[:200] if value else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


def _when(event: dict[str, Any], now: datetime) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp, UTC)
    return now
