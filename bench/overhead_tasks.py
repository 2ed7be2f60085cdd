"""Tasks for bench/overhead.py: the same no-op with Hauler's decorator and with bare Celery."""

from __future__ import annotations

from workers.app import app
from workers.base import hauler_task


@hauler_task("bench.hauler_noop", queue="health")
def hauler_noop(n: int) -> int:
    """Return ``n`` (through Hauler's task base)."""
    return n


@app.task(name="bench.plain_noop", queue="health")  # type: ignore[untyped-decorator]
def plain_noop(n: int) -> int:
    """Return ``n`` (a bare Celery task: the baseline)."""
    return n
