"""The demo job `make run` enqueues once `hauler up` is serving: proof the stack works."""

from __future__ import annotations

import sys
import time
from typing import Any

from hauler.correlation import CORRELATION_HEADER
from hauler.settings import get_settings


def _wait_for_workers(app: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            app.send_task("health.ping").get(timeout=5)
            return
        except Exception:  # workers still starting
            time.sleep(1)
    raise SystemExit("hauler: workers did not answer within 90 s; see the logs in data/logs")


def main() -> int:
    """Enqueue the demo job, wait for it, and print where to look."""
    from workers.app import app

    settings = get_settings()
    _wait_for_workers(app)
    correlation = f"demo-{int(time.time())}"
    headers = {CORRELATION_HEADER: correlation}
    pings = [app.send_task(f"{q}.ping", headers=headers) for q in settings.queues]
    answered = [r.get(timeout=60)["queue"] for r in pings]
    report = app.send_task("reports.daily", headers=headers).get(timeout=60)
    print(f"\ndemo: every queue answered: {', '.join(answered)}")
    print(f"demo: daily report outcomes so far: {report['outcomes']}")
    time.sleep(2)  # let the recorder write the batch
    print("\nwhere to look:")
    print(f"  hauler activity --correlation {correlation}   the demo's timeline")
    print("  hauler status                               queues, workers, failures")
    print(f"  http://127.0.0.1:{settings.flower_port}/                     Flower")
    print(f"  http://127.0.0.1:{settings.recorder_port}/metrics              Prometheus metrics")
    print(f"  {settings.data_dir}/logs/                  process logs")
    print("Ctrl-C stops everything.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
