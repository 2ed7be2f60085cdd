"""The autoscaler against a static fleet of 6 workers, over the same 150-second window.

One queue (health), local backend, workers of concurrency 1. The window: 15 s idle, a
burst of 6,000 tasks of 50 ms (300 worker-seconds of work), then idle to the end. The
baseline is the same window served by 6 static workers. Prints: time from the burst to
the first scale-up (target <= 10 s; KEDA's default poll alone is 30 s), drain time ratio
vs static-6 (target <= 1.25), worker-seconds ratio vs static-6 (target <= 0.6), lost
tasks (must be 0) and the direction changes (one up phase, one down phase).

    python bench/autoscale.py [--window 150] [--tasks 6000] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUEUE = "health"


@dataclass
class Run:
    """What one window measured."""

    name: str
    counts: list[tuple[float, int]] = field(default_factory=list)  # (t, workers)
    drain: float = 0.0
    lost: int = 0
    first_up: float | None = None
    directions: list[str] = field(default_factory=list)

    def worker_seconds(self) -> float:
        total = 0.0
        for (t0, n), (t1, _) in zip(self.counts, self.counts[1:], strict=False):
            total += n * (t1 - t0)
        return total


def worker_count() -> int:
    """Worker main processes of the bench's queue now running (pool children not counted)."""
    import psutil

    count = 0
    for process in psutil.process_iter(["cmdline"]):
        try:
            argv = process.info["cmdline"] or []
            named = "-n" in argv and argv[argv.index("-n") + 1].startswith(f"{QUEUE}-")
            if "worker" in argv and named:
                parent = process.parent()
                count += int(bool(parent) and "-n" not in parent.cmdline())
        except psutil.Error:  # it ended while we looked: not running
            continue
    return count


def sampler(run: Run, start: float, stop: threading.Event) -> None:
    while not stop.is_set():
        run.counts.append((time.monotonic() - start, worker_count()))
        stop.wait(0.25)


def window(run: Run, options: argparse.Namespace, env: dict[str, str]) -> None:
    import redis
    from celery import Celery

    from hauler.correlation import PUBLISHED_AT_HEADER

    client = redis.Redis.from_url(options.redis)
    app = Celery("bench", broker=options.redis, backend=options.redis)
    counter = f"hauler:queue:{QUEUE}:completed"
    start = time.monotonic()
    stop = threading.Event()
    thread = threading.Thread(target=sampler, args=(run, start, stop), daemon=True)
    thread.start()
    time.sleep(max(0.0, options.idle - (time.monotonic() - start)))
    done_before = int(client.get(counter) or 0)
    burst_at = time.monotonic() - start
    ids = []
    with app.producer_or_acquire() as producer:
        for _ in range(options.tasks):
            headers = {PUBLISHED_AT_HEADER: time.time()}
            result = app.send_task(
                "health.ping",
                kwargs={"delay": options.task_seconds},
                queue=QUEUE,
                headers=headers,
                producer=producer,
            )
            ids.append(result.id)
    while int(client.get(counter) or 0) - done_before < options.tasks:
        if time.monotonic() - start > options.window + 120:
            break
        time.sleep(0.1)
    run.drain = time.monotonic() - start - burst_at
    ups = [t for t, n in run.counts if t >= burst_at and n > run.counts[0][1]]
    run.first_up = (ups[0] - burst_at) if ups else None
    time.sleep(max(0.0, options.window - (time.monotonic() - start)))
    stop.set()
    thread.join()
    run.lost = options.tasks - _succeeded(client, ids)
    app.close()


def _succeeded(client: object, ids: list[str]) -> int:
    import json

    ok = 0
    for i in range(0, len(ids), 500):
        values = client.mget([f"celery-task-meta-{t}" for t in ids[i : i + 500]])  # type: ignore[attr-defined]
        ok += sum(1 for v in values if v and json.loads(v)["status"] == "SUCCESS")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=150.0)
    parser.add_argument("--idle", type=float, default=15.0)
    parser.add_argument("--tasks", type=int, default=6000)
    parser.add_argument("--task-seconds", type=float, default=0.05)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args()
    import redis

    from autoscale import decisions
    from autoscale.backends.local import LocalBackend
    from hauler.settings import Settings
    from hauler.store.migrate import upgrade

    data = Path(tempfile.mkdtemp(prefix="hauler-bench-autoscale-"))
    database = f"sqlite:///{data}/hauler.db"
    upgrade(database)
    env = {
        **os.environ,
        "HAULER_BROKER_URL": options.redis,
        "HAULER_DATABASE_URL": database,
        "HAULER_DATA_DIR": str(data),
        "HAULER_QUEUE_HEALTH_CONCURRENCY": "1",
        "HAULER_AUTOSCALE_QUEUES": QUEUE,
        "HAULER_AUTOSCALE_HEALTH_MIN": "1",
        "HAULER_AUTOSCALE_HEALTH_MAX": "6",
        "HAULER_AUTOSCALE_METRICS_PORT": "0",
        "HAULER_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    redis.Redis.from_url(options.redis).flushdb()

    # Baseline: six static workers.
    static = Run("static-6")
    backend = LocalBackend(Settings.from_env(env), env=env)
    backend.start(QUEUE, 6)
    _wait_for_workers(6)
    window(static, options, env)
    backend.close(stop_workers=True, timeout=60)
    _wait_for_workers(0)

    # Hauler's autoscaler: min 1, max 6, default policy and 5 s sampling.
    scaled = Run("autoscaled")
    scaler = subprocess.Popen(
        [sys.executable, "-m", "hauler.cli.main", "autoscale", "--stop-workers-on-exit"],
        env=env,
        cwd=ROOT,
    )
    _wait_for_workers(1)
    window(scaled, options, env)
    scaler.send_signal(signal.SIGTERM)
    scaler.wait(timeout=120)
    rows = list(reversed(decisions.recent(database, limit=1000, queue=QUEUE)))[1:]
    scaled.directions = ["up" if r.to_workers > r.from_workers else "down" for r in rows]
    _report(static, scaled)
    return 0


def _wait_for_workers(n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while worker_count() != n:
        if time.monotonic() > deadline:
            raise SystemExit(f"expected {n} workers, found {worker_count()}")
        time.sleep(0.25)
    time.sleep(2.0)  # let them connect


def _report(static: Run, scaled: Run) -> None:
    phases = [d for i, d in enumerate(scaled.directions) if i == 0 or d != scaled.directions[i - 1]]
    print(
        f"static-6   drain {static.drain:6.1f} s   worker-seconds {static.worker_seconds():6.0f}"
        f"   lost {static.lost}"
    )
    print(
        f"autoscaled drain {scaled.drain:6.1f} s   worker-seconds {scaled.worker_seconds():6.0f}"
        f"   lost {scaled.lost}"
    )
    first = f"{scaled.first_up:.1f} s" if scaled.first_up is not None else "never"
    print(f"burst → first scale-up: {first}  (target <= 10 s)")
    print(f"drain ratio vs static-6: {scaled.drain / static.drain:.2f}  (target <= 1.25)")
    ratio = scaled.worker_seconds() / static.worker_seconds()
    print(f"worker-seconds ratio vs static-6: {ratio:.2f}  (target <= 0.6)")
    print(f"lost tasks: {scaled.lost + static.lost}  (must be 0)")
    print(f"decisions: {' '.join(scaled.directions)}; phases: {' → '.join(phases) or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
