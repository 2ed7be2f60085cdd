"""The autoscaler process with real workers: bursts, drains, hand-over, and Docker 0 → 3 → 1."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import psutil
import pytest
import redis
from celery import Celery

from autoscale import decisions
from autoscale.backends.base import node_prefix
from autoscale.lock import KEY
from hauler import deployment
from hauler.settings import Settings
from tests.integration.conftest import ROOT
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

FAST = {
    "HAULER_AUTOSCALE_QUEUES": "health",
    "HAULER_AUTOSCALE_INTERVAL": "1",
    "HAULER_AUTOSCALE_WINDOW": "2",
    "HAULER_AUTOSCALE_LEASE": "3",
    "HAULER_AUTOSCALE_METRICS_PORT": "0",
    "HAULER_AUTOSCALE_HEALTH_MIN": "1",
    "HAULER_AUTOSCALE_HEALTH_MAX": "4",
    "HAULER_AUTOSCALE_HEALTH_TARGET_LATENCY": "2",
    "HAULER_AUTOSCALE_HEALTH_UP_COOLDOWN": "1",
    "HAULER_AUTOSCALE_HEALTH_DOWN_COOLDOWN": "2",
    "HAULER_QUEUE_HEALTH_CONCURRENCY": "1",
}


class Autoscalers:
    """`hauler autoscale` subprocesses, stopped (with their workers) at the end."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.folder / f"autoscaler-{len(self.processes)}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hauler.cli.main", "autoscale", *extra],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((process, log))
        return process, log

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for pid in worker_pids("health", self.env):
            os.killpg(pid, signal.SIGKILL)


def worker_pids(queue: str, env: Mapping[str, str]) -> list[int]:
    """Main processes of autoscaled workers of ``queue`` of the deployment ``env`` describes
    (never another test's or bench's workers on this machine)."""
    settings = Settings.from_env(env)
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            argv = process.info["cmdline"] or []
            if "worker" not in argv or "-n" not in argv:
                continue
            node = argv[argv.index("-n") + 1]
            parent = process.parent()
            ours = parent and "-n" not in parent.cmdline() and node.startswith(node_prefix(queue))
            if ours and deployment.belongs(process.environ(), settings):
                found.append(process.info["pid"])
        except psutil.Error:  # it ended while we looked
            continue
    return found


@pytest.fixture
def autoscalers(hauler_env: dict[str, str], tmp_path: Path) -> Iterator[Autoscalers]:
    env = {**hauler_env, **FAST}
    scalers = Autoscalers(env, tmp_path)
    yield scalers
    scalers.stop_all()


def test_a_burst_scales_up_drains_and_returns_to_min_without_losing_a_task(
    autoscalers: Autoscalers, client_app: Celery, pg_url: str
):
    # given the autoscaler keeping one worker for the health queue
    autoscalers.start("--stop-workers-on-exit")
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 1, timeout=60)
    assert client_app.send_task("health.ping", queue="health").get(timeout=60)["pong"]
    # when a burst of 120 tasks of 0.25 s arrives (30 s of work for one worker)
    burst = [
        client_app.send_task("health.ping", kwargs={"delay": 0.25}, queue="health")
        for _ in range(120)
    ]
    # then it scales up (several at once), every task completes, and it returns to one
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) >= 3, timeout=20, interval=0.5)
    assert all(r.get(timeout=120)["pong"] for r in burst)
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 1, timeout=60, interval=0.5)
    rows = list(reversed(decisions.recent(pg_url, limit=100, queue="health")))
    directions = ["up" if r.to_workers > r.from_workers else "down" for r in rows]
    assert directions[0] == "up" and rows[0].from_workers == 0  # the minimum, at start
    assert max(r.to_workers for r in rows) >= 3
    assert any(r.to_workers - r.from_workers >= 2 for r in rows)  # up fast: several at once
    changes = sum(1 for a, b in itertools.pairwise(directions) if a != b)
    assert changes <= 1, directions  # one up phase, one down phase: no flapping
    assert all(r.reason for r in rows) and all("depth" in r.signals for r in rows[1:])
    # and each reason shows λ, μ, backlog and latency; the foreign app's burst is seen
    # as arrivals by the flow balance (it passes no publish counter)
    for fact in ("λ ", "μ ", "backlog ", "latency "):
        assert all(fact in r.reason for r in rows[1:]), [r.reason for r in rows]
    assert max(r.signals["arrival_rate"] for r in rows[1:]) > 0
    # and the forecast's horizon moved off the local backend's prior (3 s + 1.5 ticks) once
    # the first started workers marked themselves ready: start-up time is measured
    assert any(r.signals["horizon"] != 4.5 for r in rows[2:]), [r.signals for r in rows]


def test_the_lock_hands_over_when_the_leader_is_killed(
    autoscalers: Autoscalers, client_app: Celery, redis_url: str
):
    # given two autoscalers: one leads, one stands by
    first, first_log = autoscalers.start()
    wait_for(lambda: "leading" in first_log.read_text(), timeout=30)
    _second, second_log = autoscalers.start()
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 1, timeout=60)
    holder = redis.Redis.from_url(redis_url).get(KEY)
    assert holder is not None and "leading" not in second_log.read_text()
    # when the leader is killed outright
    first.kill()
    first.wait()
    # then the standby takes over within the lease and adopts the worker (no duplicate)
    wait_for(lambda: "leading" in second_log.read_text(), timeout=15)
    assert "'health': 1" in second_log.read_text()
    assert redis.Redis.from_url(redis_url).get(KEY) != holder
    assert len(worker_pids("health", autoscalers.env)) == 1
    assert client_app.send_task("health.ping", queue="health").get(timeout=60)["pong"]


def test_manual_override_pins_the_count_for_a_while(
    autoscalers: Autoscalers, hauler_cli, hauler_env: dict[str, str]
):
    hauler_env.update(FAST)
    autoscalers.start("--stop-workers-on-exit")
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 1, timeout=60)
    out = hauler_cli("scale", "health", "3", "--for", "30s")
    assert out.returncode == 0 and "pinned to 3" in out.stdout
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 3, timeout=30, interval=0.5)
    status = hauler_cli("status")
    assert "health pinned to 3" in status.stdout and "manual override to 3" in status.stdout
    assert hauler_cli("scale", "health", "--clear").returncode == 0
    wait_for(lambda: len(worker_pids("health", autoscalers.env)) == 1, timeout=60, interval=0.5)


def test_docker_backend_scales_a_queue_0_3_1_with_real_workers(
    hauler_env: dict[str, str], tmp_path: Path, hauler_cli, client_app: Celery, pg_url: str
):
    from tests.integration.test_autoscale_backends import _docker_ready

    _docker_ready()
    import docker

    engine = docker.from_env()
    env = {
        **hauler_env,
        **FAST,
        "HAULER_AUTOSCALE_HEALTH_MIN": "0",
        "HAULER_AUTOSCALE_BACKEND": "docker",
    }
    env.pop("HAULER_IMPORTS")  # containers run the image's tasks only
    hauler_env.pop("HAULER_IMPORTS")
    scalers = Autoscalers(env, tmp_path)

    def containers() -> list[dict]:
        # the list call alone: a container removed meanwhile (a warm stop ending) is no error
        return engine.api.containers(filters={"label": ["hauler.queue=health"]})

    try:
        # given the docker autoscaler and no worker (min 0, nothing queued)
        scalers.start("--stop-workers-on-exit")
        assert containers() == []
        # when the queue is pinned to 3, then 3 labelled containers consume real tasks
        assert hauler_cli("scale", "health", "3").returncode == 0
        wait_for(lambda: len(containers()) == 3, timeout=60, interval=0.5)
        labels = containers()[0]["Labels"]
        assert labels["com.docker.compose.project"] == "hauler"
        assert labels["com.docker.compose.service"] == "worker-health"
        results = [
            client_app.send_task("health.ping", kwargs={"delay": 0.5}, queue="health")
            for _ in range(12)
        ]
        assert all(r.get(timeout=120)["pong"] for r in results)
        nodes = {n for reply in client_app.control.ping(timeout=2) for n in reply}
        assert len([n for n in nodes if n.startswith("health-as")]) == 3
        # when pinned to 1, two containers get a warm stop and are removed
        assert hauler_cli("scale", "health", "1").returncode == 0
        wait_for(lambda: len(containers()) == 1, timeout=90, interval=0.5)
        assert client_app.send_task("health.ping", queue="health").get(timeout=60)["pong"]
        rows = decisions.recent(pg_url, limit=10, queue="health")
        assert [(r.from_workers, r.to_workers) for r in reversed(rows)] == [(0, 3), (3, 1)]
        assert {r.backend for r in rows} == {"docker"}
    finally:
        scalers.stop_all()
        for container in containers():
            engine.api.remove_container(container["Id"], force=True)
