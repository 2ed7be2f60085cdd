"""What Hauler's task base costs: no-op tasks through a real worker, Hauler vs bare Celery.

Baseline: the same no-op declared with a bare ``@app.task`` on the same worker, broker
and result backend, published with the same app (so both carry Hauler's headers and
events). Prints tasks/s for both and the ratio (Hauler / bare); 1.0 means free.

    python bench/overhead.py [--tasks 2000] [--redis redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    options = parser.parse_args()
    data = tempfile.mkdtemp(prefix="hauler-bench-")
    env = {
        **os.environ,
        "HAULER_BROKER_URL": options.redis,
        "HAULER_DATA_DIR": data,
        "HAULER_IMPORTS": "bench.overhead_tasks",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    import redis

    redis.Redis.from_url(options.redis).flushdb()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "-Q",
            "health",
            "-c",
            "1",
            "--prefetch-multiplier",
            "4",
            "-l",
            "WARNING",
            "-n",
            "bench@%h",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        from workers.app import app

        app.send_task("health.ping", queue="health").get(timeout=60)  # warm
        rates = {name: _rate(app, name, options.tasks) for name in ("plain_noop", "hauler_noop")}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    plain, hauler = rates["plain_noop"], rates["hauler_noop"]
    print(f"bare Celery task : {plain:8.1f} tasks/s")
    print(f"Hauler task base : {hauler:8.1f} tasks/s")
    print(f"ratio (Hauler / bare Celery): {hauler / plain:.2f}")
    return 0


def _rate(app: object, name: str, count: int) -> float:
    start = time.perf_counter()
    results = [app.send_task(f"bench.{name}", args=[i], queue="health") for i in range(count)]  # type: ignore[attr-defined]
    for result in results:
        result.get(timeout=120)
    return count / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
