"""Say which deliveries this worker holds (a heartbeat), and do not rerun finished tasks.

Every ``heartbeat_interval`` seconds the consumer writes, under its hostname and pid, the
delivery tags of every message it holds (reserved, running, waiting for an ETA, or not
yet acknowledged by kombu), with its clock and a TTL of ``HAULER_REDELIVERY_DEAD_AFTER``.
The recorder's sweeper (``hauler/redelivery.py``) gives back only what no live heartbeat
lists. The heartbeat runs on the consumer's timer, in the thread that receives messages,
so a delivery is either listed or newer than the heartbeat — never lost in between.

A message that comes back (``redelivered``) for a task whose result is already final —
SUCCESS or FAILURE — is acknowledged and not run again: its ack was lost with a broker
connection, or its worker died after storing the result. The check reads the result
backend with a short timeout, only for redelivered messages; when it cannot read,
the task runs (Celery's ``worker_deduplicate_successful_tasks`` still catches SUCCESS).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import redis
from celery import Celery, bootsteps, states
from celery.backends.redis import RedisBackend
from celery.worker import state

from hauler.redelivery import Holder, heartbeat_interval, worker_key
from hauler.settings import get_settings

log = logging.getLogger(__name__)


def held_tags(consumer: Any) -> frozenset[str]:
    """Delivery tags of every message this worker holds now."""
    requests = [
        *state.requests.values(),
        *state.reserved_requests,
        *state.active_requests,
        *state.scheduled_requests,
    ]
    tags = {str(request.message.delivery_tag) for request in requests}
    task_consumer = getattr(consumer, "task_consumer", None)
    qos = getattr(getattr(task_consumer, "channel", None), "qos", None)
    tags.update(str(tag) for tag in getattr(qos, "_delivered", {}))  # kombu's unacked, by tag
    return frozenset(tags)


def consumed_queues(consumer: Any) -> tuple[str, ...]:
    """Names of the queues this worker consumes (for the health check's workers per queue)."""
    task_consumer = getattr(consumer, "task_consumer", None)
    queues = getattr(task_consumer, "queues", None) or ()
    names = [getattr(q, "name", None) for q in queues]
    if not any(names):
        names = list(consumer.app.amqp.queues.consume_from or ())
    return tuple(sorted({str(n) for n in names if n}))


class DeliveryHeartbeat(bootsteps.StartStopStep):
    """A consumer step: the heartbeat key, written at start and then on the consumer's timer."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        settings = get_settings()
        self.dead_after_ms = int(settings.redelivery_dead_after * 1000)
        self.interval = heartbeat_interval(settings.redelivery_dead_after)
        self.client = redis.Redis.from_url(
            settings.broker_url, socket_timeout=2, socket_connect_timeout=2
        )
        self.timer: Any = None

    def start(self, parent: Any) -> None:
        self.beat(parent)  # before the event loop consumes anything
        self.timer = parent.timer.call_repeatedly(self.interval, self.beat, (parent,), priority=10)

    def stop(self, parent: Any) -> None:
        # The key is left to expire: a consumer restarting after a lost connection still
        # holds its running tasks, and a worker shutting down warm gives its own back.
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    shutdown = stop

    def beat(self, parent: Any) -> None:
        """Write this worker's heartbeat; a failure only means the next one counts."""
        holder = Holder(parent.hostname, time.time(), held_tags(parent), consumed_queues(parent))
        try:
            key = worker_key(parent.hostname, os.getpid())
            self.client.set(key, holder.dumps(), px=self.dead_after_ms)
        except redis.RedisError as exc:
            log.debug("delivery heartbeat not written: %s", exc)


FINAL_STATES = frozenset({states.SUCCESS, states.FAILURE})


class SkipFinished(bootsteps.StartStopStep):
    """A consumer step: wraps each task's strategy to acknowledge finished redeliveries."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.client: redis.Redis | None = None

    def start(self, parent: Any) -> None:
        backend = parent.app.backend
        if not isinstance(backend, RedisBackend):
            return  # only a Redis backend can be read without blocking the consumer
        if self.client is None:
            self.client = redis.Redis.from_url(
                parent.app.conf.result_backend, socket_timeout=1, socket_connect_timeout=1
            )
        for name, strategy in list(parent.strategies.items()):
            if not getattr(strategy, "skips_finished", False):
                parent.strategies[name] = self._wrap(backend, strategy)

    def _wrap(self, backend: RedisBackend, strategy: Any) -> Any:
        def handle(message: Any, *args: Any, **kwargs: Any) -> Any:
            if (message.delivery_info or {}).get("redelivered"):
                task_id = (message.headers or {}).get("id")
                final = self.final_state(backend, task_id) if task_id else None
                if final is not None:
                    log.warning(
                        "%s[%s] came back after it finished (%s): acknowledged, not run again",
                        message.headers.get("task"),
                        task_id,
                        final,
                    )
                    message.ack()
                    return None
            return strategy(message, *args, **kwargs)

        handle.skips_finished = True  # type: ignore[attr-defined]
        return handle

    def final_state(self, backend: RedisBackend, task_id: str) -> str | None:
        """SUCCESS or FAILURE if the backend holds that for ``task_id``; else None."""
        assert self.client is not None
        try:
            raw = self.client.get(backend.get_key_for_task(task_id))
            status = backend.decode_result(raw).get("status") if raw else None
        except Exception as exc:  # unreadable: run it; Celery still catches SUCCESS
            log.debug("could not read the result of %s: %s", task_id, exc)
            return None
        return status if status in FINAL_STATES else None


def connect(app: Celery) -> None:
    """Add the delivery heartbeat and the finished-redelivery check to ``app``'s workers."""
    app.steps["consumer"].add(DeliveryHeartbeat)
    app.steps["consumer"].add(SkipFinished)
