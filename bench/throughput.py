"""What publishing and draining cost through Hauler: no-op tasks, Hauler vs a bare Celery app.

One producer process publishes N no-op tasks; a worker (prefork ``-c 4``, prefetch 1,
events on) runs them. Each side runs alone, in processes of its own, on its own Redis
database of the same server, one after the other (who goes first alternates per round):

* enqueue: N published with no worker running → tasks/s, and the Redis memory per
  waiting message (every key of the database, ``MEMORY USAGE … SAMPLES 0``, over N);
* drain: a worker is started on those N → tasks/s from the first start to the last result;
* end to end: N published while that worker runs → tasks/s from the first publish to the
  last result, and the enqueue→start latency of each task (p50, p99).

Both apps store results in their Redis database (Hauler's default); the no-op returns
the time it started. The databases are flushed before and after each side. Each figure is
the best of ``--rounds`` runs, as other load on the machine only ever makes a run slower.

    python bench/throughput.py [--counts 20000,100000] [--rounds 2] [--hauler-db 14]
                               [--bare-db 15] [--redis redis://127.0.0.1:6379]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"enqueue": 0.9, "drain": 0.95, "end to end": 0.95}
MEMORY_TARGET = 1.2  # Hauler's bytes per waiting message / bare Celery's, at most


@dataclass(frozen=True)
class Side:
    """One app under test: where its app lives, the task it publishes and its queue."""

    name: str
    app: str
    task: str
    queue: str


SIDES = (
    Side("bare", "bench.throughput_bare:app", "bench.bare_noop", "celery"),
    Side("hauler", "workers.app:app", "bench.noop", "health"),
)


@dataclass
class Figures:
    """What one side measured."""

    enqueue: float  # tasks/s, no worker running
    drain: float  # tasks/s, first start to last result
    end_to_end: float  # tasks/s, first publish to last result, worker running
    p50_ms: float  # enqueue→start latency of the end-to-end run
    p99_ms: float
    bytes_per_message: float  # Redis memory per waiting message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="20000,100000", help="task counts, comma-separated")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis, without a db")
    parser.add_argument("--hauler-db", type=int, default=14)
    parser.add_argument("--bare-db", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="runs per side; the best is kept")
    parser.add_argument("--produce", help=argparse.SUPPRESS)  # internal: producer process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.produce:
        side = next(s for s in SIDES if s.name == options.produce)
        return _produce(side, int(options.counts), Path(options.out))
    dbs = {"bare": options.bare_db, "hauler": options.hauler_db}
    for count in (int(c) for c in options.counts.split(",")):
        load = os.getloadavg()
        runs: dict[str, list[Figures]] = {side.name: [] for side in SIDES}
        for round_ in range(options.rounds):
            for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:  # alternate who goes first
                url = f"{options.redis}/{dbs[side.name]}"
                runs[side.name].append(_run_side(side, count, url))
        best = {name: _best(figures) for name, figures in runs.items()}
        _report(count, options.rounds, best, load, os.getloadavg())
    return 0


def _best(runs: list[Figures]) -> Figures:
    """Each figure at its best over the rounds (the run least disturbed by other load)."""
    return Figures(
        enqueue=max(r.enqueue for r in runs),
        drain=max(r.drain for r in runs),
        end_to_end=max(r.end_to_end for r in runs),
        p50_ms=min(r.p50_ms for r in runs),
        p99_ms=min(r.p99_ms for r in runs),
        bytes_per_message=min(r.bytes_per_message for r in runs),
    )


def _env(side: Side, url: str, data: str) -> dict[str, str]:
    return {
        **os.environ,
        "HAULER_BROKER_URL": url,
        "HAULER_DATA_DIR": data,
        "HAULER_IMPORTS": "bench.throughput_tasks",
        "HAULER_LOG_LEVEL": "WARNING",
        "BENCH_BARE_URL": url,
        "PYTHONPATH": str(ROOT),
    }


def _run_side(side: Side, count: int, url: str) -> Figures:
    client = redis.Redis.from_url(url)
    client.flushdb()
    with tempfile.TemporaryDirectory(prefix="hauler-bench-") as data:
        env = _env(side, url, data)
        enqueue_s, first = _publish(side, count, env, data)
        memory = _waiting_bytes(client) / count
        worker = _start_worker(side, env, Path(data) / "worker.log")
        try:
            drained = _results(client, side, first["ids"])
            drain_s = max(r["done"] for r in drained) - min(r["start"] for r in drained)
            client.delete(*[f"celery-task-meta-{i}" for i in first["ids"]])
            e2e_s, second = _publish(side, count, env, data)
            ran = _results(client, side, second["ids"])
            e2e_s = max(r["done"] for r in ran) - second["sent"][0]
            latency = sorted(
                1000 * (r["start"] - sent) for r, sent in zip(ran, second["sent"], strict=True)
            )
        finally:
            _stop(worker)
    client.flushdb()
    return Figures(
        enqueue=count / enqueue_s,
        drain=count / drain_s,
        end_to_end=count / e2e_s,
        p50_ms=statistics.median(latency),
        p99_ms=latency[int(0.99 * (len(latency) - 1))],
        bytes_per_message=memory,
    )


def _publish(side: Side, count: int, env: dict[str, str], data: str) -> tuple[float, Any]:
    """Run a producer process; returns its publishing seconds and what it wrote."""
    out = Path(data) / "published.json"
    argv = [sys.executable, "-m", "bench.throughput", "--produce", side.name]
    argv += ["--counts", str(count)]
    subprocess.run([*argv, "--out", str(out)], env=env, cwd=ROOT, check=True)
    published = json.loads(out.read_text())
    return published["seconds"], published


def _produce(side: Side, count: int, out: Path) -> int:
    """The producer process: publish ``count`` tasks one by one; write ids and times."""
    module, _, name = side.app.partition(":")
    app = getattr(importlib.import_module(module), name)
    app.send_task(side.task, queue=side.queue).forget()  # connect before the clock starts
    ids, sent = [], []
    start = time.perf_counter()
    for _ in range(count):
        sent.append(time.time())
        ids.append(app.send_task(side.task, queue=side.queue).id)
    sent_events = getattr(app.amqp, "sent_events", None)
    if sent_events is not None:  # Hauler: its task-sent events are out too
        sent_events.close()
    seconds = time.perf_counter() - start
    out.write_text(json.dumps({"seconds": seconds, "ids": ids, "sent": sent}))
    return 0


def _start_worker(side: Side, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", side.app, "worker", "-Q", side.queue]
    argv += ["-c", "4", "--prefetch-multiplier", "1", "-E", "-l", "WARNING"]
    argv += ["-n", f"bench-{side.name}@%h"]
    with log.open("ab") as sink:
        return subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def _waiting_bytes(client: redis.Redis) -> int:
    """Redis memory of every key in the database (all waiting messages, exactly)."""
    return sum(
        int(client.memory_usage(key, samples=0) or 0) for key in client.scan_iter(count=1000)
    )


def _results(
    client: redis.Redis, side: Side, ids: list[str], timeout: float = 1800
) -> list[dict[str, float]]:
    """Wait for the result of every task in ``ids``; their start and done times, in order."""
    deadline = time.monotonic() + timeout
    while client.llen(side.queue) or client.hlen("unacked"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{side.name}: tasks still waiting after {timeout} s")
        time.sleep(0.05)
    found: dict[str, dict[str, float]] = {}
    while len(found) < len(ids):
        missing = [i for i in ids if i not in found]
        for offset in range(0, len(missing), 1000):
            chunk = missing[offset : offset + 1000]
            for task_id, raw in zip(
                chunk, client.mget([f"celery-task-meta-{i}" for i in chunk]), strict=True
            ):
                if raw is not None:
                    meta = json.loads(raw)
                    done = datetime.fromisoformat(meta["date_done"]).timestamp()
                    found[task_id] = {"start": float(meta["result"]), "done": done}
        if len(found) < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{side.name}: {len(ids) - len(found)} results missing")
            time.sleep(0.05)
    return [found[i] for i in ids]


def _report(
    count: int,
    rounds: int,
    figures: dict[str, Figures],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> None:
    bare, hauler = figures["bare"], figures["hauler"]
    print(
        f"\n{count:,} no-op tasks, one producer; worker prefork -c 4, prefetch 1, events on; "
        f"best of {rounds} (load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)"
    )
    print(f"{'':22}{'bare Celery':>14}{'Hauler':>14}{'ratio':>9}{'target':>10}")
    rows = (
        ("enqueue", bare.enqueue, hauler.enqueue),
        ("drain", bare.drain, hauler.drain),
        ("end to end", bare.end_to_end, hauler.end_to_end),
    )
    for label, theirs, ours in rows:
        ratio = ours / theirs
        verdict = "ok" if ratio >= TARGETS[label] else "MISSED"
        print(
            f"{label + ' (tasks/s)':22}{theirs:14,.0f}{ours:14,.0f}{ratio:9.2f}"
            f"{'>= ' + str(TARGETS[label]):>10} {verdict}"
        )
    for label, theirs, ours in (
        ("enqueue→start p50 ms", bare.p50_ms, hauler.p50_ms),
        ("enqueue→start p99 ms", bare.p99_ms, hauler.p99_ms),
    ):
        print(f"{label:22}{theirs:14,.1f}{ours:14,.1f}")
    memory = hauler.bytes_per_message / bare.bytes_per_message
    verdict = "ok" if memory <= MEMORY_TARGET else "MISSED"
    print(
        f"{'bytes/waiting message':22}{bare.bytes_per_message:14,.0f}"
        f"{hauler.bytes_per_message:14,.0f}{memory:9.2f}{'<= ' + str(MEMORY_TARGET):>10} {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
