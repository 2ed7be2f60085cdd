"""Write activity rows in batches; buffer and retry while the database is down."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert

from hauler.store.db import engine_for
from hauler.store.models import Activity
from hauler.store.outage import is_outage

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[dict[str, Any]]], None]


def database_sink(url: str) -> Sink:
    """A sink that inserts rows into the activity table in one transaction."""

    def write(rows: Sequence[dict[str, Any]]) -> None:
        with engine_for(url).begin() as connection:
            connection.execute(insert(Activity), list(rows))

    return write


class BatchWriter:
    """Collects rows and writes them in batches of up to ``batch_size``.

    A batch is written when it is full or ``flush_seconds`` after its first row. When
    the sink fails the batch is kept and retried with backoff (capped at 30 s) while
    new rows keep buffering; past ``buffer_max`` rows the oldest are dropped and
    counted in ``dropped`` (the recorder exports it as a metric).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
        buffer_max: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.buffer_max = buffer_max
        self.clock = clock
        self.dropped = 0
        self.written = 0
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_success: float | None = None
        self._rows: deque[dict[str, Any]] = deque()
        self._lock = threading.Condition()
        self._retry_at = 0.0
        self._backoff = 0.5

    def add(self, row: dict[str, Any]) -> None:
        """Buffer one row (never blocks; drops the oldest when full)."""
        with self._lock:
            if len(self._rows) >= self.buffer_max:
                self._rows.popleft()
                self.dropped += 1
            self._rows.append(row)
            if len(self._rows) >= self.batch_size:
                self._lock.notify()

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def flush_once(self) -> int:
        """Write one batch if one is due; return how many rows were written."""
        with self._lock:
            if not self._rows or self.clock() < self._retry_at:
                return 0
            batch = [self._rows[i] for i in range(min(self.batch_size, len(self._rows)))]
        done = len(batch)
        try:
            self.sink(batch)
        except Exception as exc:  # an outage waits; any refusal is sorted out row by row
            if is_outage(exc):
                self._failed(exc)
                return 0
            done, outage = self._write_one_by_one(batch)
            if outage is not None:
                self._failed(outage)
        with self._lock:
            for _ in range(done):
                self._rows.popleft()
        if done < len(batch):
            return done
        self.written += len(batch)
        self.batches += 1
        self.last_success = self.clock()
        self.last_error = None
        self._backoff = 0.5
        return len(batch)

    def _write_one_by_one(self, batch: list[dict[str, Any]]) -> tuple[int, Exception | None]:
        """A batch the database refused (not an outage): keep the good rows, drop the bad.

        Returns:
            How many rows of ``batch`` are done with, and the outage that stopped it, if any.
        """
        for done, row in enumerate(batch):
            try:
                self.sink([row])
            except Exception as exc:  # this row is refused; the others go in
                if is_outage(exc):
                    return done, exc
                self.dropped += 1
                log.error("activity row dropped (%s): %r", exc, row.get("event_type"))
        return len(batch), None

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        self._retry_at = self.clock() + self._backoff
        log.warning("activity write failed (%s); %d rows buffered", self.last_error, self.buffered)
        self._backoff = min(30.0, self._backoff * 2)

    def run(self, stop: threading.Event) -> None:
        """Flush until ``stop`` is set, then write what is left (best effort)."""
        while not stop.is_set():
            with self._lock:
                if len(self._rows) < self.batch_size:
                    self._lock.wait(timeout=self.flush_seconds)
            while self.flush_once():
                pass
        deadline = self.clock() + 10
        while self._rows and self.clock() < deadline:
            self._retry_at = 0.0
            if not self.flush_once():
                time.sleep(0.5)
