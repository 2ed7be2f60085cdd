"""The watch against the old way: 200 downloads handed to one real aria2, slow loopback sources.

Setup: a real ``aria2c`` (RPC on loopback), a loopback HTTP server sending each of 200
files (8 MiB) in 64 KiB chunks 3 s apart (one connection each, so every transfer stays active
for the whole run), a real Hauler ``downloads`` worker (concurrency 4), SQLite, Redis.

Hauler (hand-off): 200 ``downloads.fetch`` are sent by name; each submits its job to
aria2, records its transfer and returns its slot. Measured: time until all 200 show
PROGRESS (handed off), the worker slots still held then (``inspect().active()``; target
0 of 200), and one watch pass (``run_pass``) over the 200: wall time and HTTP requests
to aria2.

Baseline (the old one-poll-loop-per-download way, as Hauler did before: each
``downloads.fetch`` held its slot and polled ``tellStatus(gid)`` every
``HAULER_DOWNLOADS_POLL_INTERVAL`` = 1 s, storing PROGRESS each time): 200 poll loops,
one thread each (standing for the 200 worker slots they held), over ``--window``
seconds. Measured: slots held, requests per refresh of all 200, the time one refresh of
all 200 costs (the sum of the 200 polls' times) and its wall time.

Prints the figures and the ratios old / new.

    python bench/watch.py [--transfers 200] [--window 10] [--redis redis://127.0.0.1:6379/10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_aria2(root: Path, port: int, secret: str, transfers: int) -> subprocess.Popen[bytes]:
    argv = [
        shutil.which("aria2c") or "aria2c",
        "--enable-rpc",
        f"--rpc-listen-port={port}",
        f"--rpc-secret={secret}",
        "--rpc-listen-all=false",
        f"--max-concurrent-downloads={transfers + 10}",
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--disable-ipv6=true",
        "--file-allocation=none",
        f"--dir={root}",
        f"--stop-with-process={os.getpid()}",
        "--console-log-level=error",
        "--summary-interval=0",
    ]
    log = (root / "aria2.out").open("ab")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait(predicate: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0, help="seconds of the baseline")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()

    import redis
    from celery import Celery

    from hauler.downloads.clients.aria2 import Aria2Client, gid_for
    from hauler.settings import Settings
    from hauler.store.migrate import upgrade
    from hauler.transfers import store
    from hauler.transfers.watch import run_pass
    from tests.integration.http_server import LoopbackServer, Resource

    n = args.transfers
    work = Path(tempfile.mkdtemp(prefix="hauler-bench-watch-"))
    redis.Redis.from_url(args.redis).flushdb()
    server = LoopbackServer().start()
    paths = []
    body = os.urandom(8 * 1024 * 1024)  # 128 chunks 3 s apart: ~6 minutes per transfer
    for i in range(n):
        path = f"/slow/{i}.bin"
        server.resources[path] = Resource(body, chunk_delay=3.0, ranges=False)
        paths.append(path)
    port, secret = free_port(), secrets.token_hex(8)
    (work / "aria2").mkdir()
    aria2 = start_aria2(work / "aria2", port, secret, n)
    env = {
        **os.environ,
        "HAULER_BROKER_URL": args.redis,
        "HAULER_DATA_DIR": str(work / "data"),
        "HAULER_DATABASE_URL": f"sqlite:///{work / 'hauler.db'}",
        "HAULER_DOWNLOADS_ARIA2_URL": f"http://127.0.0.1:{port}/jsonrpc",
        "HAULER_DOWNLOADS_ARIA2_SECRET": secret,
        "HAULER_DOWNLOADS_ARIA2_CONNECTIONS": "1",
        "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32",
        "PYTHONPATH": str(ROOT),
    }
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    app = Celery("bench-client", broker=args.redis, backend=args.redis)
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
    worker_log = (work / "worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "downloads",
         "-c", "4", "-n", "bench-watch@%h", "--prefetch-multiplier", "1", "-l", "WARNING",
         "--without-gossip", "--without-mingle"],
        env=env, cwd=ROOT, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        aria2_client = Aria2Client(env["HAULER_DOWNLOADS_ARIA2_URL"], secret)
        wait(aria2_client.healthy, 30, "aria2")
        wait(lambda: app.control.ping(timeout=1), 60, "the downloads worker")

        # --- Hauler: hand-off ---
        started = time.monotonic()
        results = [
            app.send_task("downloads.fetch", args=[server.url(p)], kwargs={"client": "aria2"},
                          queue="downloads")
            for p in paths
        ]  # fmt: skip
        wait(
            lambda: (
                len(store.watched(settings.database_url)) == n
                and all((r.info or {}).get("handed_off") for r in results)
            ),
            300,
            "every fetch to be handed off",
            every=0.5,
        )
        handed_seconds = time.monotonic() - started
        held = n
        settle = time.monotonic() + 10  # the last tasks return from Ignore a moment later
        while time.monotonic() < settle and held:
            active = app.control.inspect(timeout=2).active() or {}
            held = sum(len(tasks) for tasks in active.values())
        rows = store.watched(settings.database_url)
        run_pass(settings, app)  # a first pass moves them from submitted to downloading
        report = run_pass(settings, app, clients={"aria2": aria2_client})
        (client_pass,) = report.clients
        new_wall, new_calls = report.seconds, client_pass.calls

        # --- baseline: one poll loop per download, each holding a slot ---
        gids = [gid_for(f"hauler-{r.id}") for r in results]
        sequential = Aria2Client(env["HAULER_DOWNLOADS_ARIA2_URL"], secret)
        began = time.monotonic()
        for gid, result in zip(gids, results, strict=True):  # one refresh, no contention
            status = sequential.rpc.status(gid) or {}
            meta = {"bytes": int(status.get("completedLength") or 0)}
            app.backend.store_result(result.id, meta, "PROGRESS")
        old_round = time.monotonic() - began
        stop = threading.Event()
        poll_times: list[float] = []
        lock = threading.Lock()

        def poll_loop(gid: str, task_id: str) -> None:
            client = Aria2Client(env["HAULER_DOWNLOADS_ARIA2_URL"], secret)
            while not stop.is_set():
                began = time.monotonic()
                status = client.rpc.status(gid) or {}
                meta = {"bytes": int(status.get("completedLength") or 0),
                        "total": int(status.get("totalLength") or 0) or None}  # fmt: skip
                app.backend.store_result(task_id, meta, "PROGRESS")
                with lock:
                    poll_times.append(time.monotonic() - began)
                stop.wait(1.0)  # HAULER_DOWNLOADS_POLL_INTERVAL's default

        threads = [threading.Thread(target=poll_loop, args=(g, r.id), daemon=True)
                   for g, r in zip(gids, results, strict=True)]  # fmt: skip
        window_start = time.monotonic()
        for thread in threads:
            thread.start()
        stop.wait(args.window)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        window = time.monotonic() - window_start
        polls = len(poll_times)
        refreshes = polls / n
        old_calls = n  # one tellStatus per download per refresh
        old_cost = sum(poll_times) / refreshes  # seconds of polling per refresh of all
        old_wall = max(poll_times)  # the slowest poll of a round, at best (all in parallel)
        old_held = len(threads)

        print(f"transfers: {n} through aria2 ({len(rows)} transfer rows)")
        print(
            f"hand-off: all {n} handed off in {handed_seconds:.1f} s; "
            f"downloads worker slots held after submission: {held} of {n} (target 0)"
        )
        print(
            f"watch pass over {client_pass.followed} transfers: {new_wall * 1000:.1f} ms wall, "
            f"{new_calls} API call(s) to aria2 ({client_pass.seconds * 1000:.1f} ms), "
            f"{report.progressed} progress updates, {report.finished} finished"
        )
        print(
            f"baseline (one poll loop per download): {old_held} slots held, {old_calls} API "
            f"calls per refresh of all; one refresh polled in turn: {old_round * 1000:.1f} ms"
        )
        print(
            f"  as {n} concurrent loops for {window:.0f} s ({polls} polls): "
            f"{old_cost * 1000:.0f} ms of polling per refresh, "
            f"slowest poll {old_wall * 1000:.0f} ms"
        )
        print(f"ratio API calls per refresh (old / new): {old_calls / max(new_calls, 1):.0f}x")
        print(f"ratio refresh wall time, polled in turn (old / new): {old_round / new_wall:.1f}x")
        print(f"ratio slots held (old / new): {old_held} / {held}"
              + (" (new holds none)" if held == 0 else f" = {old_held / held:.1f}x"))  # fmt: skip
    finally:
        for process in (worker, aria2):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        server.stop()
        redis.Redis.from_url(args.redis).flushdb()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
