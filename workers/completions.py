"""Finished tasks counted per queue in memory and added to Redis at most every ``interval`` s.

The autoscaler derives each queue's throughput from ``hauler:queue:<queue>:completed``
and ``…:busy_seconds`` (the time spent running them). One ``INCRBY``/``INCRBYFLOAT`` per
queue per interval instead of one per task keeps the counters off the path of every
task; a count waits at most ``interval`` seconds to be written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import redis

from autoscale.signals import BUSY_KEY, COMPLETED_KEY

log = logging.getLogger(__name__)


class Completions:
    """Per-queue completion counts of one process, written in the background.

    Args:
        client: returns the Redis client to write to (called at each write).
        interval: longest a count waits in memory, in seconds.
    """

    def __init__(self, client: Callable[[], redis.Redis], interval: float = 0.5) -> None:
        self.client = client
        self.interval = interval
        self._pending: Counter[str] = Counter()
        self._busy: dict[str, float] = {}
        self._started: dict[str, float] = {}  # task id → monotonic start, while it runs
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def started(self, task_id: str) -> None:
        """Note that task ``task_id`` starts now (its run time is counted when it finishes)."""
        self._started[task_id] = time.monotonic()

    def finished(self, task_id: str | None, queue: str | None) -> None:
        """Count task ``task_id`` of ``queue`` finished, with its run time if its start was seen."""
        began = self._started.pop(task_id, None) if task_id else None
        if queue:
            self.count(queue, time.monotonic() - began if began is not None else 0.0)

    def count(self, queue: str, seconds: float = 0.0) -> None:
        """Count one finished task of ``queue`` that ran for ``seconds``."""
        with self._lock:
            self._pending[queue] += 1
            self._busy[queue] = self._busy.get(queue, 0.0) + max(0.0, seconds)
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write what is counted now (a count must never fail a task: errors are logged)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            busy, self._busy = self._busy, {}
            self._timer = None
        if not pending:
            return
        try:
            with self.client().pipeline(transaction=False) as pipe:
                for queue, n in pending.items():
                    pipe.incrby(COMPLETED_KEY.format(queue=queue), n)
                    if busy.get(queue):
                        pipe.incrbyfloat(BUSY_KEY.format(queue=queue), round(busy[queue], 6))
                pipe.execute()
        except Exception:
            log.debug("could not count %d completions", sum(pending.values()), exc_info=True)

    def reset(self) -> None:
        """After a fork: nothing counted yet, and the parent's timer and lock are not ours."""
        self._pending = Counter()
        self._busy = {}
        self._started = {}
        self._lock = threading.Lock()
        self._timer = None
