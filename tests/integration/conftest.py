"""Fixtures for tests that talk to real servers and real worker processes.

Each test gets a flushed Redis database (from HAULER_TEST_REDIS_DBS, default 1-3), a
PostgreSQL schema of its own with the migrations applied, and a data directory; worker,
recorder and CLI subprocesses get all of that through their environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, text

from hauler.store.db import normalize_url
from hauler.store.migrate import upgrade
from tests.integration.http_server import LoopbackServer
from tests.integration.services import PG_URL, REDIS_HOST, REDIS_PORT, missing

ROOT = Path(__file__).resolve().parents[2]


def _redis_dbs() -> list[int]:
    first, _, last = os.environ.get("HAULER_TEST_REDIS_DBS", "1-3").partition("-")
    return list(range(int(first), int(last or first) + 1))


@pytest.fixture(scope="session")
def redis_server() -> str:
    """Redis's base URL, once it answers a PING."""
    base = f"redis://{REDIS_HOST}:{REDIS_PORT}"
    try:
        redis.Redis.from_url(base, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        missing(f"Redis at {base} ({exc})")
    return base


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed Redis database for this test."""
    url = f"{redis_server}/{_redis_dbs()[0]}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """PostgreSQL's URL, once it answers."""
    try:
        engine = create_engine(normalize_url(PG_URL))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        missing(f"PostgreSQL at {PG_URL} ({str(exc).splitlines()[0]})")
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL schema with Hauler's migrations applied; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(pg_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_server}?options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def hauler_env(tmp_path: Path, redis_url: str, pg_url: str) -> dict[str, str]:
    """Environment for Hauler subprocesses: this test's Redis db, schema and data dir."""
    env = dict(os.environ)
    env.update(
        HAULER_BROKER_URL=redis_url,
        HAULER_DATABASE_URL=pg_url,
        HAULER_DATA_DIR=str(tmp_path / "data"),
        HAULER_IMPORTS="tests.integration.support_tasks",
        HAULER_RETRY_BACKOFF="0.5",
        HAULER_RETRY_BACKOFF_MAX="4",
        HAULER_RECORDER_FLUSH_SECONDS="0.2",
        HAULER_LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


class WorkerProcess:
    """A real ``celery worker`` subprocess running Hauler's app."""

    def __init__(
        self, env: Mapping[str, str], queues: list[str], name: str, concurrency: int, log: Path
    ) -> None:
        self.name = name
        self.log = log
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "-Q",
            ",".join(queues),
            "-n",
            f"{name}@%h",
            "-c",
            str(concurrency),
            "-E",
            "--prefetch-multiplier",
            "1",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                env={**env, "TEST_NODE": name},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker {self.name} not ready:\n{self.tail()}")

    def pool_pids(self) -> list[int]:
        """PIDs of the worker's pool processes (its direct children)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL of the whole group, at once: a test's end needs no warm shutdown (each
        test has its own Redis database and data dir; a warm one takes ~3 s)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_worker(hauler_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """Factory: ``start_worker(["health"], name="w1", concurrency=1)`` → a ready worker."""
    started: list[WorkerProcess] = []

    def start(
        queues: list[str],
        *,
        name: str | None = None,
        concurrency: int = 1,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> WorkerProcess:
        name = name or f"w{len(started) + 1}"
        worker = WorkerProcess(
            env or hauler_env, queues, name, concurrency, tmp_path / f"worker-{name}.log"
        )
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.kill()
        print(f"--- worker {worker.name} log (tail) ---\n{worker.tail(30)}")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback HTTP server for this test (modules may override it with a wider scope)."""
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def other_loopback() -> Iterator[LoopbackServer]:
    """A server on 127.0.0.2: loopback too, for SSRF tests that allow 127.0.0.1 only."""
    server = LoopbackServer(host="127.0.0.2").start()
    yield server
    server.stop()


@pytest.fixture
def client_app(redis_url: str) -> Iterator[Celery]:
    """A bare Celery client on this test's broker: what another app would use."""
    app = Celery("foreign-app", broker=redis_url, backend=redis_url)
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
    yield app
    app.close()


@pytest.fixture
def hauler_cli(hauler_env: dict[str, str]) -> object:
    """Run ``hauler ARGS…`` as a subprocess with this test's environment."""

    def run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hauler.cli.main", *args],
            env=hauler_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def recorder(hauler_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A running ``hauler recorder`` (metrics on a free port given in HAULER_RECORDER_PORT)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hauler_env["HAULER_RECORDER_PORT"] = str(port)
    log = tmp_path / "recorder.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", "recorder"],
            env=hauler_env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_http(f"http://127.0.0.1:{port}/metrics", process, log)
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    print(f"--- recorder log (tail) ---\n{log.read_text(errors='replace')[-3000:]}")


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy:\n{log.read_text(errors='replace')[-3000:]}")
