"""Progress of a running download, reported at most once a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hauler.downloads.clients.base import Progress

Report = Callable[[dict[str, Any]], None]


class Throttled:
    """Forwards progress to ``report`` no more than once per ``every`` seconds."""

    def __init__(
        self, report: Report, every: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.report = report
        self.every = every
        self.clock = clock
        self._last = float("-inf")

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        eta = None
        if progress.total is not None and progress.rate > 0:
            eta = max(0.0, (progress.total - progress.done) / progress.rate)
        self.report({"bytes": progress.done, "total": progress.total,
                     "rate": round(progress.rate, 1),
                     "eta": None if eta is None else round(eta, 1)})  # fmt: skip


def celery_report(meta: dict[str, Any]) -> None:
    """Publish ``meta`` as the running task's PROGRESS state (visible to any result reader)."""
    from celery import current_task

    if current_task and current_task.request.id:
        current_task.update_state(state="PROGRESS", meta=meta)
