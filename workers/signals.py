"""Hauler's Celery hooks, for Hauler's app alone: publishing path, completion counts, fork reset.

``connect(app)`` wires them (``workers/app.py`` calls it); a foreign Celery app in the same
process is left untouched: its messages get no Hauler headers and no ``task-sent`` event,
and its tasks are not counted.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)

from autoscale.signals import READY_KEY
from hauler import broker
from hauler.store.db import engine_for
from workers.completions import Completions
from workers.publish import HaulerAMQP


def connect(app: Celery) -> None:
    """Wire Hauler's hooks to ``app``; call it before the app publishes anything.

    Raises:
        RuntimeError: ``app`` has already made its publishing object.
    """
    if "amqp" in app.__dict__:
        raise RuntimeError("workers.signals.connect(app) must run before the app publishes")
    app.amqp_cls = HaulerAMQP
    completions = Completions(lambda: broker.shared(app.conf.broker_url))

    def note_start(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task is not None and task.app is app and task_id:
            completions.started(task_id)

    def count_completion(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        """Count finished tasks and their run time per queue: the autoscaler's throughput."""
        if task is None or task.app is not app:
            return
        queue = (task.request.delivery_info or {}).get("routing_key")
        completions.finished(task_id, queue)

    def mark_ready(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is app:
            announce_ready(app, getattr(sender, "hostname", None))

    def reset_after_fork(**_: Any) -> None:
        """Database connections must not cross a fork (Redis pools check the pid)."""
        engine_for.cache_clear()
        completions.reset()

    def flush_at_exit(**_: Any) -> None:
        completions.flush()
        app.amqp.sent_events.close()

    uid = f"hauler:{id(app)}"
    task_prerun.connect(note_start, weak=False, dispatch_uid=f"{uid}:start")
    task_postrun.connect(count_completion, weak=False, dispatch_uid=f"{uid}:count")
    worker_ready.connect(mark_ready, weak=False, dispatch_uid=f"{uid}:ready")
    worker_process_init.connect(reset_after_fork, weak=False, dispatch_uid=f"{uid}:fork")
    worker_process_shutdown.connect(flush_at_exit, weak=False, dispatch_uid=f"{uid}:exit")


def announce_ready(app: Celery, node: str | None) -> None:
    """Say when this worker could first consume: the autoscaler measures start-up time."""
    if not node:
        return
    try:
        broker.shared(app.conf.broker_url).set(READY_KEY.format(node=node), time.time(), ex=3600)
    except Exception:  # best effort: the autoscaler keeps its previous estimate
        return
