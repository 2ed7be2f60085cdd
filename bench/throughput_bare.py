"""The baseline of bench/throughput.py: a bare Celery app and no-op on BENCH_BARE_URL."""

from __future__ import annotations

import os
import time

from celery import Celery

url = os.environ.get("BENCH_BARE_URL", "redis://127.0.0.1:6379/15")
app = Celery("bare", broker=url, backend=url)


@app.task(name="bench.bare_noop")  # type: ignore[untyped-decorator]
def noop() -> float:
    """Return the time the task started (UNIX seconds)."""
    return time.time()
