"""Finished tasks counted per queue in memory and added to Redis at most every ``interval`` s.

The autoscaler derives each queue's throughput from ``hauler:queue:<queue>:completed``.
One ``INCRBY`` per queue per interval instead of one ``INCR`` per task keeps the counter
off the path of every task; a count waits at most ``interval`` seconds to be written.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

import redis

from autoscale.signals import COMPLETED_KEY

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
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def count(self, queue: str) -> None:
        """Count one finished task of ``queue``."""
        with self._lock:
            self._pending[queue] += 1
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write what is counted now (a count must never fail a task: errors are logged)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._timer = None
        if not pending:
            return
        try:
            with self.client().pipeline(transaction=False) as pipe:
                for queue, n in pending.items():
                    pipe.incrby(COMPLETED_KEY.format(queue=queue), n)
                pipe.execute()
        except Exception:
            log.debug("could not count %d completions", sum(pending.values()), exc_info=True)

    def reset(self) -> None:
        """After a fork: nothing counted yet, and the parent's timer and lock are not ours."""
        self._pending = Counter()
        self._lock = threading.Lock()
        self._timer = None
