"""Progress of running transfers: measured, throttled, published where people look.

A downloader or uploader counts bytes with a :class:`Meter`, which turns them into
:class:`Progress` (done, total, rate). A running task's progress goes to two places: the
task's state (``PROGRESS`` with ``bytes``, ``total``, ``rate``, ``eta``), which any
result reader sees, and the board in Redis (``hauler:transfers:active``, one JSON entry
per task id), which ``hauler transfers`` lists without knowing task ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

Report = Callable[[dict[str, Any]], None]
BOARD_KEY = "hauler:transfers:active"
STALE_SECONDS = 300  # an entry not updated for this long belongs to a dead worker


@dataclass(frozen=True)
class Progress:
    """Where a transfer stands."""

    done: int  # bytes so far
    total: int | None  # bytes expected, when known
    rate: float  # bytes per second, the mean since counting began


ProgressFn = Callable[[Progress], None]


class Meter:
    """Turns a running byte count into Progress reports, at most one per ``every`` seconds.

    The rate is the mean since counting began: from construction, with ``start`` bytes
    already there (a resumed file), or — with ``start=None``, for counts polled from a
    peer program — from the first count. ``finish`` always reports.

    Call it from the thread that runs the task (Celery's task state is per thread).
    """

    def __init__(
        self,
        total: int | None,
        progress: ProgressFn,
        *,
        every: float = 0.0,
        start: int | None = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.progress = progress
        self.every = every
        self.clock = clock
        self.done = start or 0
        self._base = None if start is None else (clock(), start)
        self._last = float("-inf")

    def add(self, count: int) -> None:
        """Note ``count`` more bytes."""
        self.at(self.done + count)

    def at(self, done: int, total: int | None = None) -> None:
        """Note that ``done`` bytes (of ``total``, when it becomes known) are there so far."""
        now = self.clock()
        if self._base is None:
            self._base = (now, done)
        self.done = done
        self.total = self.total if total is None else total
        if now - self._last >= self.every:
            self._report(now)

    def finish(self, size: int | None = None) -> None:
        """Report the final count (``size`` bytes of ``size``, when given), whatever the time."""
        if size is not None:
            self.done = self.total = size
        self._report(self.clock())

    def _report(self, now: float) -> None:
        self._last = now
        since, base = self._base or (now, self.done)
        elapsed = now - since
        rate = max(self.done - base, 0) / elapsed if elapsed > 0 else 0.0
        self.progress(Progress(self.done, self.total, rate))


class Throttled:
    """Forwards progress to ``report`` at most once per ``every`` seconds, and the end."""

    def __init__(
        self, report: Report, every: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.report = report
        self.every = every
        self.clock = clock
        self._last = float("-inf")
        self._finished = False  # the 100 % report is always let through, once

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        finished = progress.total is not None and progress.done >= progress.total
        if now - self._last < self.every and not (finished and not self._finished):
            return
        self._last, self._finished = now, finished
        self.report(as_meta(progress))


def as_meta(progress: Progress) -> dict[str, Any]:
    """The PROGRESS state's meta: bytes, total, rate (bytes/s) and eta (seconds)."""
    eta = None
    if progress.total is not None and progress.rate > 0:
        eta = round(max(0.0, (progress.total - progress.done) / progress.rate), 1)
    return {
        "bytes": progress.done,
        "total": progress.total,
        "rate": round(progress.rate, 1),
        "eta": eta,
    }


def celery_report(meta: dict[str, Any]) -> None:
    """Publish ``meta`` as the running task's PROGRESS state (visible to any result reader)."""
    from celery import current_task

    if current_task and current_task.request.id:
        current_task.update_state(state="PROGRESS", meta=meta)


class Board:
    """The transfers running now, in Redis, so every worker and the CLI see them."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock

    def publish(self, task_id: str, kind: str, what: str, meta: dict[str, Any]) -> None:
        """Note where ``task_id``'s transfer (``kind`` download/upload of ``what``) stands."""
        entry = {"task_id": task_id, "kind": kind, "what": what, "at": self.clock(), **meta}
        self.client.hset(BOARD_KEY, task_id, json.dumps(entry))

    def clear(self, task_id: str) -> None:
        """The transfer of ``task_id`` ended (either way)."""
        self.client.hdel(BOARD_KEY, task_id)

    def active(self) -> list[dict[str, Any]]:
        """Entries updated recently, oldest first; stale ones are removed."""
        now = self.clock()
        entries, stale = [], []
        for task_id, raw in self.client.hgetall(BOARD_KEY).items():
            entry = json.loads(raw)
            if now - float(entry.get("at", 0)) > STALE_SECONDS:
                stale.append(task_id)
            else:
                entries.append(entry)
        if stale:
            self.client.hdel(BOARD_KEY, *stale)
        return sorted(entries, key=lambda e: float(e["at"]))


def task_reporter(board: Board, task_id: str, kind: str, what: str) -> Throttled:
    """Progress for a running task: its PROGRESS state and the board, once a second."""

    def report(meta: dict[str, Any]) -> None:
        celery_report(meta)
        board.publish(task_id, kind, what, meta)

    return Throttled(report)
