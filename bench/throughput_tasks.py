"""Tasks for bench/throughput.py: a no-op with Hauler's decorator (it returns its start time)."""

from __future__ import annotations

import time

from workers.base import hauler_task


@hauler_task("bench.noop", queue="health")
def noop() -> float:
    """Return the time the task started (UNIX seconds)."""
    return time.time()
