"""The autoscaler against a static fleet at its maximum (6 workers a queue), four load shapes.

Local backend, the ``media`` queue's ping task, workers of concurrency 1, min 1 / max 6,
latency target 10 s, the default policy and 5 s sampling. Each scenario runs twice over the
same window — once with 6 static workers per queue (the baseline), once under ``hauler
autoscale`` — and prints,
per queue: p50/p95 wait (task start - publish) against the target, drain time (first
publish → last completion) and worker-seconds against the static fleet, lost tasks, the
decisions with their reasons and their phases.

* ``burst``: 15 s idle, 6,000 tasks of 50 ms at once, idle to 150 s. Targets: first
  scale-up <= 10 s, drain <= 1.25x static, worker-seconds <= 0.6x static, one up and one
  down phase.
* ``ramp``: 10 s idle, arrivals rising from 0 to 4x one worker's capacity (40/s of
  100 ms tasks) over 60 s, held 30 s, then stopped; 150 s window. Targets: p95 wait <=
  half the target (5 s), worker-seconds <= 0.7x static, no scale-down while arrivals rise.
* ``sawtooth``: a steady 3/s of 100 ms tasks, plus a burst of 300 every 30 s (four);
  160 s window. Target: at most one up and one down phase per burst (a burst's
  decisions run from its first scale-up to the next burst's).
* ``two-queues``: the ramp on ``media`` (same targets) and, at 30 s, a burst of
  2,000 x 50 ms on ``maintenance`` published by a plain Celery app (a foreign
  publisher: its λ comes from the flow balance, not the publish counter); 150 s window.

Lost tasks must be 0 everywhere.

    python bench/autoscale.py [--scenario burst|ramp|sawtooth|two-queues|all]
                              [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The bench's main queue: any queue's ``<queue>.ping`` would do; not ``health``, whose
#: autoscaled workers the autoscaler's integration tests stop by name machine-wide.
QUEUE = "media"
MAX = 6
TARGET = 10.0
Rate = Callable[[float], float]  # tasks/s at t seconds into the window


@dataclass(frozen=True)
class Load:
    """What one queue gets in a scenario."""

    queue: str
    rate: Rate  # tasks/s at t (a burst is a very high rate for a moment)
    task_seconds: float
    until: float  # no publishing after this (s into the window)
    foreign: bool = False  # published by a plain Celery app, not Hauler's
    bursts: tuple[float, ...] = ()  # burst starts (s): phases are counted per burst
    ws_target: float | None = None  # worker-seconds ratio vs static at most
    p95_target: float | None = None  # p95 wait at most (s)
    drain_target: float | None = None  # drain ratio vs static at most


@dataclass(frozen=True)
class Scenario:
    name: str
    window: float
    loads: tuple[Load, ...]


def _burst(at: float, count: int, spread: float = 1.0) -> Rate:
    return lambda t: count / spread if at <= t < at + spread else 0.0


def _ramp(start: float, rise: float, hold: float, peak: float) -> Rate:
    def rate(t: float) -> float:
        if t < start or t >= start + rise + hold:
            return 0.0
        return peak * min(1.0, (t - start) / rise)

    return rate


def _sum(*rates: Rate) -> Rate:
    return lambda t: sum(r(t) for r in rates)


SAW = tuple(10.0 + 30.0 * k for k in range(4))
RAMP = Load(QUEUE, _ramp(10.0, 60.0, 30.0, 40.0), 0.1, 100.0, ws_target=0.7, p95_target=TARGET / 2)
SCENARIOS = {
    "burst": Scenario(
        "burst",
        150.0,
        (
            Load(
                QUEUE,
                _burst(15.0, 6000, 0.5),
                0.05,
                20.0,
                foreign=True,
                bursts=(15.0,),
                ws_target=0.6,
                drain_target=1.25,
            ),
        ),
    ),
    "ramp": Scenario(
        "ramp",
        150.0,
        (RAMP,),
    ),
    "sawtooth": Scenario(
        "sawtooth",
        160.0,
        (
            Load(
                QUEUE,
                _sum(lambda t: 3.0, *(_burst(b, 300) for b in SAW)),
                0.1,
                130.0,
                bursts=SAW,
            ),
        ),
    ),
    "two-queues": Scenario(
        "two-queues",
        150.0,
        (
            RAMP,
            Load("maintenance", _burst(30.0, 2000, 0.5), 0.05, 35.0, foreign=True, bursts=(30.0,)),
        ),
    ),
}


@dataclass
class Measured:
    """What one queue saw in one window."""

    counts: list[tuple[float, int]] = field(default_factory=list)  # (t, workers)
    published: list[tuple[str, float]] = field(default_factory=list)  # (task id, UNIX time)
    first_publish: float = 0.0  # s into the window
    drain: float = 0.0  # first publish → last completion, s
    waits: list[float] = field(default_factory=list)
    lost: int = 0
    first_up: float | None = None

    def worker_seconds(self) -> float:
        return sum(n * (t1 - t0) for (t0, n), (t1, _) in itertools.pairwise(self.counts))

    def percentile(self, q: float) -> float:
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def schedule(rate: Rate, until: float) -> list[int]:
    """Tasks ``rate`` has asked for by each 10 ms up to ``until`` (its integral, 1 ms steps)."""
    due, total = [0], 0.0
    for ms in range(int(until * 1000)):
        total += rate(ms / 1000) / 1000
        if ms % 10 == 9:
            due.append(int(total + 1e-9))
    return due


def publisher(load: Load, app: Any, start: float, out: Measured, stop: threading.Event) -> None:
    """Publish ``load.rate`` as it goes: every 10 ms, what its integral says is due by then
    (so a burst is published whole even when publishing takes longer than the burst)."""
    from hauler.correlation import PUBLISHED_AT_HEADER

    due_at = schedule(load.rate, load.until)
    with app.producer_or_acquire() as producer:
        while not stop.is_set():
            t = time.monotonic() - start
            due = due_at[min(int(t * 100), len(due_at) - 1)]
            while len(out.published) < due:
                headers = {PUBLISHED_AT_HEADER: time.time()} if load.foreign else None
                result = app.send_task(
                    f"{load.queue}.ping",
                    kwargs={"delay": load.task_seconds},
                    queue=load.queue,
                    headers=headers,
                    producer=producer,
                )
                if not out.published:
                    out.first_publish = t
                out.published.append((result.id, time.time()))
            if t >= load.until:
                return
            time.sleep(0.01)


def sampler(
    backend: Any, queues: list[str], start: float, out: dict[str, Measured], stop: threading.Event
) -> None:
    while not stop.is_set():
        t = time.monotonic() - start
        for queue in queues:
            out[queue].counts.append((t, len(backend.workers(queue))))
        stop.wait(0.5)


def run_window(scenario: Scenario, env: dict[str, str], redis_url: str) -> dict[str, Measured]:
    """One window of ``scenario``: publish, wait for the drain, then collect the results."""
    import redis
    from celery import Celery

    from autoscale.backends.local import LocalBackend
    from autoscale.signals import COMPLETED_KEY
    from hauler.settings import Settings
    from workers.app import app as hauler_app

    client = redis.Redis.from_url(redis_url)
    foreign = Celery("bench", broker=redis_url, backend=redis_url)
    queues = [load.queue for load in scenario.loads]
    measured = {q: Measured() for q in queues}
    before = {q: int(client.get(COMPLETED_KEY.format(queue=q)) or 0) for q in queues}
    backend = LocalBackend(Settings.from_env(env), env=env)
    start = time.monotonic()
    stop = threading.Event()
    threads = [threading.Thread(target=sampler, args=(backend, queues, start, measured, stop))]
    for load in scenario.loads:
        app = foreign if load.foreign else hauler_app
        threads.append(
            threading.Thread(target=publisher, args=(load, app, start, measured[load.queue], stop))
        )
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    pending = set(queues)
    while pending and time.monotonic() - start < scenario.window + 120:
        for queue in list(pending):
            done = int(client.get(COMPLETED_KEY.format(queue=queue)) or 0) - before[queue]
            if done >= len(measured[queue].published):
                m = measured[queue]
                m.drain = time.monotonic() - start - m.first_publish
                pending.discard(queue)
        time.sleep(0.1)
    time.sleep(max(0.0, scenario.window - (time.monotonic() - start)))
    stop.set()
    threads[0].join()
    for queue, load in zip(queues, scenario.loads, strict=True):
        _collect(client, measured[queue], load.task_seconds)
    foreign.close()
    return measured


def _collect(client: Any, m: Measured, task_seconds: float) -> None:
    """Waits (start - publish) and lost tasks from the stored results."""
    from datetime import datetime

    ok = 0
    for i in range(0, len(m.published), 500):
        chunk = m.published[i : i + 500]
        values = client.mget([f"celery-task-meta-{task_id}" for task_id, _ in chunk])
        for (_, published_at), raw in zip(chunk, values, strict=True):
            meta = json.loads(raw) if raw else {}
            if meta.get("status") != "SUCCESS":
                continue
            ok += 1
            started = datetime.fromisoformat(meta["result"]["at"]).timestamp() - task_seconds
            m.waits.append(max(0.0, started - published_at))
    m.lost = len(m.published) - ok


def scenario_env(scenario: Scenario, redis_url: str) -> dict[str, str]:
    data = Path(tempfile.mkdtemp(prefix=f"hauler-bench-autoscale-{scenario.name}-"))
    queues = [load.queue for load in scenario.loads]
    env = {
        **os.environ,
        "HAULER_BROKER_URL": redis_url,
        "HAULER_DATABASE_URL": f"sqlite:///{data}/hauler.db",
        "HAULER_DATA_DIR": str(data),
        "HAULER_AUTOSCALE_QUEUES": ",".join(queues),
        "HAULER_AUTOSCALE_METRICS_PORT": "0",
        "HAULER_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    for queue in queues:
        env[f"HAULER_QUEUE_{queue.upper()}_CONCURRENCY"] = "1"
        env[f"HAULER_AUTOSCALE_{queue.upper()}_MIN"] = "1"
        env[f"HAULER_AUTOSCALE_{queue.upper()}_MAX"] = str(MAX)
        env[f"HAULER_AUTOSCALE_{queue.upper()}_TARGET_LATENCY"] = str(TARGET)
    return env


def run_scenario(scenario: Scenario, redis_url: str) -> bool:
    """Both windows of ``scenario``; prints the report and returns whether targets were met."""
    from autoscale.backends.local import LocalBackend
    from hauler.settings import Settings
    from hauler.store.migrate import upgrade

    env = scenario_env(scenario, redis_url)
    upgrade(env["HAULER_DATABASE_URL"])
    queues = [load.queue for load in scenario.loads]
    settings = Settings.from_env(env)

    backend = LocalBackend(settings, env=env)
    for queue in queues:
        backend.start(queue, MAX)
    _wait_for(backend, queues, MAX)
    static = run_window(scenario, env, redis_url)
    backend.close(stop_workers=True, timeout=60)
    _wait_for(backend, queues, 0)

    scaler = subprocess.Popen(
        [sys.executable, "-m", "hauler.cli.main", "autoscale", "--stop-workers-on-exit"],
        env=env,
        cwd=ROOT,
    )
    _wait_for(backend, queues, 1)
    began = time.time()
    scaled = run_window(scenario, env, redis_url)
    scaler.send_signal(signal.SIGTERM)
    scaler.wait(timeout=120)
    _wait_for(backend, queues, 0)
    return report(scenario, static, scaled, env["HAULER_DATABASE_URL"], began)


def _wait_for(backend: Any, queues: list[str], n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while any(len(backend.workers(q)) != n for q in queues):
        if time.monotonic() > deadline:
            found = {q: len(backend.workers(q)) for q in queues}
            raise SystemExit(f"expected {n} workers per queue, found {found}")
        time.sleep(0.25)
    time.sleep(2.0)  # let them connect


def report(
    scenario: Scenario,
    static: dict[str, Measured],
    scaled: dict[str, Measured],
    database: str,
    began: float,
) -> bool:
    from autoscale import decisions

    ok = True
    print(f"\n=== {scenario.name} ({scenario.window:.0f} s window, static fleet: {MAX}/queue) ===")
    for load in scenario.loads:
        q, s, a = load.queue, static[load.queue], scaled[load.queue]
        rows = list(reversed(decisions.recent(database, limit=1000, queue=q)))
        rows = [r for r in rows if _at(r) >= began]
        directions = ["up" if r.to_workers > r.from_workers else "down" for r in rows]
        phases = [d for i, d in enumerate(directions) if i == 0 or d != directions[i - 1]]
        ws = a.worker_seconds() / s.worker_seconds()
        drain = a.drain / s.drain if s.drain else float("nan")
        p95 = a.percentile(0.95)
        print(f"[{q}] {len(a.published)} tasks of {load.task_seconds * 1000:.0f} ms")
        for name, m in (("static", s), ("autoscaled", a)):
            print(
                f"  {name:10s} wait p50 {m.percentile(0.5):5.2f} s  p95 {m.percentile(0.95):5.2f} s"
                f" (target {TARGET:g} s)   drain {m.drain:6.1f} s"
                f"   worker-seconds {m.worker_seconds():5.0f}   lost {m.lost}"
            )
        print(f"  worker-seconds vs static: {ws:.2f}" + _target(load.ws_target))
        print(f"  drain vs static: {drain:.2f}" + _target(load.drain_target))
        ok &= a.lost == 0 and s.lost == 0
        if load.ws_target is not None:
            ok &= ws <= load.ws_target
        if load.drain_target is not None:
            ok &= drain <= load.drain_target
        if load.p95_target is not None:
            print(f"  p95 wait {p95:.2f} s (target <= {load.p95_target:g} s)")
            ok &= p95 <= load.p95_target
        if scenario.name == "burst":
            ups = [t for t, n in a.counts if t >= 15.0 and n > a.counts[0][1]]
            first = ups[0] - 15.0 if ups else None
            print("  burst → first scale-up: " + (f"{first:.1f} s" if first else "never"))
            ok &= first is not None and first <= 10.0
        print(f"  decisions ({len(rows)}): phases {' → '.join(phases) or 'none'}")
        for r in rows:
            at = _at(r) - began
            print(f"    t+{at:5.1f}s {r.from_workers} → {r.to_workers}  {r.reason}")
        if load.bursts:
            flaps = _flaps(rows, began, load.bursts)
            print(f"  bursts with more than one up and one down phase: {flaps} (target 0)")
            ok &= flaps == 0
        else:
            early_down = [
                r for r in rows if r.to_workers < r.from_workers and _rising(load, r, began)
            ]
            print(f"  scale-downs while arrivals rise: {len(early_down)} (target 0)")
            ok &= not early_down
        print(f"  lost tasks: {a.lost + s.lost} (must be 0)")
    print(f"  {'targets met' if ok else 'TARGETS MISSED'}")
    return ok


def _at(row: Any) -> float:
    """A decision's time as UNIX seconds (SQLite gives it back without its UTC zone)."""
    from datetime import UTC

    stamp = row.decided_at
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _target(value: float | None) -> str:
    return f" (target <= {value:g})" if value is not None else ""


def _rising(load: Load, row: Any, began: float) -> bool:
    t = _at(row) - began
    return load.rate(t) > 0 and load.rate(t) > load.rate(t - 5.0)


def _flaps(rows: list[Any], began: float, bursts: tuple[float, ...]) -> int:
    """Bursts whose decisions are not one up phase then one down phase at most.

    A burst's decisions run from the first scale-up at or after its start to the first
    at or after the next burst's start (a burst the workers still there absorb has none,
    and the previous burst's way down goes on until an up); before the first burst's
    first up nothing is counted.
    """
    directions = [(_at(r) - began, "up" if r.to_workers > r.from_workers else "down") for r in rows]
    ups = [t for t, d in directions if d == "up"]
    edges = sorted({next((t for t in ups if t >= b), float("inf")) for b in bursts})
    bad = 0
    for start, end in itertools.pairwise([*edges, float("inf")]):
        dirs = [d for t, d in directions if start <= t < end]
        phases = [d for i, d in enumerate(dirs) if i == 0 or d != dirs[i - 1]]
        bad += int(phases not in ([], ["up"], ["up", "down"]))
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args()
    import redis

    os.environ["HAULER_BROKER_URL"] = options.redis  # Hauler's app in this process publishes
    os.environ.setdefault("HAULER_LOG_LEVEL", "WARNING")
    redis.Redis.from_url(options.redis).flushdb()
    names = list(SCENARIOS) if options.scenario == "all" else [options.scenario]
    met = [run_scenario(SCENARIOS[name], options.redis) for name in names]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
