"""One contract suite for every worker backend: local processes and Docker containers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from autoscale.backends.base import WorkerBackend, node_prefix
from autoscale.backends.local import LocalBackend
from hauler.settings import Settings
from tests.integration.conftest import ROOT
from tests.integration.services import missing, wait_for

pytestmark = pytest.mark.integration

QUEUE = "health"


def _docker_ready() -> None:
    started = subprocess.run(
        [str(ROOT / "deploy/scripts/start-dockerd.sh")], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        missing(f"a Docker engine ({started.stderr.strip()})")
    built = subprocess.run(
        [str(ROOT / "deploy/docker/build-image.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if built.returncode != 0:
        missing(f"the hauler:latest image ({built.stderr.strip()[-500:]})")


def make_backend(kind: str, env: dict[str, str]) -> WorkerBackend:
    settings = Settings.from_env(env)
    if kind == "local":
        return LocalBackend(settings, env=env)
    from autoscale.backends.docker import DockerBackend

    return DockerBackend(settings)


@pytest.fixture(params=["local", "docker"])
def backend_env(
    request: pytest.FixtureRequest, hauler_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, dict[str, str]]]:
    kind = request.param
    env = dict(hauler_env, HAULER_QUEUE_HEALTH_CONCURRENCY="1")
    if kind == "docker":
        _docker_ready()
        env.pop("HAULER_IMPORTS")  # test-only tasks are not in the image
    for key, value in env.items():
        if key.startswith("HAULER_"):
            monkeypatch.setenv(key, value)
    yield kind, env
    make_backend(kind, env).close(stop_workers=True, timeout=60)


def _nodes(client_app: Celery) -> set[str]:
    replies = client_app.control.ping(timeout=1.0) or []
    return {node for reply in replies for node in reply if node.startswith(node_prefix(QUEUE))}


def test_started_workers_are_listed_and_consume_real_tasks(backend_env, client_app: Celery):
    kind, env = backend_env
    backend = make_backend(kind, env)
    # when two workers are started
    started = backend.start(QUEUE, 2)
    # then they are listed at once, join Celery, and run tasks
    listed = backend.workers(QUEUE)
    assert {h.id for h in listed} == {h.id for h in started}
    assert all(h.node.startswith(node_prefix(QUEUE)) and not h.stopping for h in listed)
    wait_for(lambda: len(_nodes(client_app)) == 2, timeout=120, interval=1)
    results = [client_app.send_task("health.ping", queue=QUEUE) for _ in range(6)]
    assert all(r.get(timeout=60)["pong"] for r in results)


def test_a_new_backend_instance_adopts_running_workers(backend_env):
    kind, env = backend_env
    started = make_backend(kind, env).start(QUEUE, 1)
    # a fresh instance (an autoscaler restarted) sees the same worker
    assert [h.id for h in make_backend(kind, env).workers(QUEUE)] == [started[0].id]


def test_stop_is_a_warm_shutdown_that_finishes_the_running_task(backend_env, client_app: Celery):
    kind, env = backend_env
    backend = make_backend(kind, env)
    (handle,) = backend.start(QUEUE, 1)
    wait_for(lambda: _nodes(client_app), timeout=120, interval=1)
    result = client_app.send_task("health.ping", kwargs={"delay": 4}, queue=QUEUE)
    wait_for(lambda: result.state == "STARTED", timeout=60)
    # when the worker is stopped mid-task
    backend.stop(handle)
    assert [h.stopping for h in backend.workers(QUEUE)] in ([True], [])
    # then the task still completes, and the worker goes away
    assert result.get(timeout=60)["pong"] is True
    wait_for(lambda: backend.workers(QUEUE) == [], timeout=60, interval=0.5)


def test_worker_logs_go_to_the_data_dir(hauler_env: dict[str, str], tmp_path: Path):
    env = dict(hauler_env)
    backend = LocalBackend(Settings.from_env(env), env=env)
    before = time.time()
    (handle,) = backend.start(QUEUE, 1)
    after = time.time()
    try:
        log = Path(env["HAULER_DATA_DIR"]) / "logs" / f"worker-{handle.node.split('@')[0]}.log"
        wait_for(lambda: log.exists() and "ready" in log.read_text(), timeout=60)
        listed = [h for h in backend.workers(QUEUE) if h.id == handle.id]
    finally:
        backend.close(stop_workers=True, timeout=30)
    # and the worker's start time, as started and as listed later, is when it was started
    assert before <= handle.started_at <= after
    assert len(listed) == 1, f"worker {handle.id} not listed"
    assert abs(listed[0].started_at - handle.started_at) < 2.0  # /proc's boot time is whole s
