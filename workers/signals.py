"""Hauler's Celery hooks, for Hauler's app alone: publishing path, completion counts, fork reset.

``connect(app)`` wires them (``workers/app.py`` calls it); a foreign Celery app in the same
process is left untouched: its messages get no Hauler headers and no ``task-sent`` event.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import task_postrun, worker_process_init, worker_process_shutdown

from hauler import broker
from hauler.store.db import engine_for
from workers.publish import HaulerAMQP

log = logging.getLogger(__name__)


def connect(app: Celery) -> None:
    """Wire Hauler's hooks to ``app``; call it before the app publishes anything.

    Raises:
        RuntimeError: ``app`` has already made its publishing object.
    """
    if "amqp" in app.__dict__:
        raise RuntimeError("workers.signals.connect(app) must run before the app publishes")
    app.amqp_cls = HaulerAMQP

    def count_completion(sender: Any = None, task: Any = None, **_: Any) -> None:
        if task is not None and task.app is app:
            _count_completion(app, task)

    def flush_sent_events(**_: Any) -> None:
        app.amqp.sent_events.close()

    uid = f"hauler:{id(app)}"
    task_postrun.connect(count_completion, weak=False, dispatch_uid=f"{uid}:count")
    worker_process_init.connect(_reset_after_fork, weak=False, dispatch_uid=f"{uid}:fork")
    worker_process_shutdown.connect(flush_sent_events, weak=False, dispatch_uid=f"{uid}:exit")


def _reset_after_fork(**_: Any) -> None:
    """Database connections must not be shared across a fork (Redis pools check the pid)."""
    engine_for.cache_clear()


def _count_completion(app: Celery, task: Any) -> None:
    """Count finished tasks per queue: the autoscaler derives throughput from it."""
    queue = (task.request.delivery_info or {}).get("routing_key")
    if not queue:
        return
    try:
        broker.shared(app.conf.broker_url).incr(f"hauler:queue:{queue}:completed")
    except Exception:  # a counter must never fail a task
        log.debug("could not count completion on %s", queue, exc_info=True)
