"""Celery signal hooks: stamp Hauler headers at publish, announce sends, reset after fork."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_task
from celery.signals import (
    after_task_publish,
    before_task_publish,
    task_postrun,
    worker_process_init,
)

from hauler.correlation import CAUSATION_HEADER, CORRELATION_HEADER, stamp_headers
from hauler.store.db import engine_for

log = logging.getLogger(__name__)


@before_task_publish.connect
def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or "id" not in headers:
        return
    parent = current_task.request if current_task else None
    stamp_headers(headers, parent)


@after_task_publish.connect
def _announce_sent(
    sender: str | None = None,
    headers: dict[str, Any] | None = None,
    routing_key: str | None = None,
    **_: Any,
) -> None:
    """Publish a ``task-sent`` event that carries the correlation and causation ids."""
    if not headers or "id" not in headers:
        return
    from workers.app import app

    try:
        with app.events.default_dispatcher() as dispatcher:
            dispatcher.send(
                "task-sent",
                uuid=headers["id"],
                name=sender,
                queue=routing_key,
                root_id=headers.get("root_id"),
                parent_id=headers.get("parent_id"),
                retries=headers.get("retries", 0),
                correlation_id=headers.get(CORRELATION_HEADER),
                causation_id=headers.get(CAUSATION_HEADER),
            )
    except Exception:  # the message is published; the event is best effort
        log.warning("could not publish task-sent event for %s", headers["id"], exc_info=True)


@worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    """Database and Redis connections must not be shared across a fork."""
    global _counter_client
    engine_for.cache_clear()
    _counter_client = None


_counter_client: Any = None


@task_postrun.connect
def _count_completion(task: Any = None, **_: Any) -> None:
    """Count finished tasks per queue: the autoscaler derives throughput from it."""
    global _counter_client
    if task is None:
        return
    queue = (task.request.delivery_info or {}).get("routing_key")
    if not queue:
        return
    try:
        if _counter_client is None:
            import redis

            from hauler.settings import get_settings

            _counter_client = redis.Redis.from_url(get_settings().broker_url)
        _counter_client.incr(f"hauler:queue:{queue}:completed")
    except Exception:  # a counter must never fail a task
        log.debug("could not count completion on %s", queue, exc_info=True)
