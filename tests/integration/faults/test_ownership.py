"""An autoscaler touches only its own deployment's workers, with another stack beside it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from autoscale.backends.base import node_prefix
from hauler.settings import Settings
from tests.integration.conftest import ROOT
from tests.integration.faults.sockets import free_port
from tests.integration.services import missing, require_binary, wait_for

pytestmark = pytest.mark.integration

QUEUE = "health"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own on a free loopback port (two stacks share it)."""
    binary = require_binary("redis-server")
    port = free_port()
    workdir = tmp_path / "redis"
    workdir.mkdir()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}"
    wait_for(lambda: _answers(redis.Redis.from_url(url)), timeout=10)
    yield url
    process.kill()
    process.wait(timeout=10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def stack_env(broker_url: str, data_dir: Path) -> dict[str, str]:
    """One Hauler deployment: its own Redis database and data dir (SQLite inside it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAULER_")}
    env.update(
        HAULER_BROKER_URL=broker_url,
        HAULER_DATA_DIR=str(data_dir),
        HAULER_AUTOSCALE_QUEUES=QUEUE,
        HAULER_AUTOSCALE_HEALTH_MIN="2",
        HAULER_AUTOSCALE_HEALTH_MAX="2",
        HAULER_AUTOSCALE_INTERVAL="0.5",
        HAULER_AUTOSCALE_LEASE="3",
        HAULER_AUTOSCALE_METRICS_PORT="0",
        HAULER_QUEUE_HEALTH_CONCURRENCY="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def workers_of(broker_url: str) -> set[int]:
    """PIDs of autoscaled health workers whose environment names ``broker_url`` (the oracle)."""
    found = set()
    for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
        argv = process.info.get("cmdline") or []
        if "worker" not in argv or "-n" not in argv:
            continue
        node = argv[argv.index("-n") + 1] if argv.index("-n") + 1 < len(argv) else ""
        if not node.startswith(node_prefix(QUEUE)):
            continue
        with contextlib.suppress(psutil.Error):
            if psutil.Process(process.info["ppid"]).cmdline() == argv:
                continue  # a pool process of that worker
            if process.environ().get("HAULER_BROKER_URL") == broker_url:
                found.add(process.info["pid"])
    return found


class Autoscaler:
    """A real ``hauler autoscale --backend local`` process."""

    def __init__(self, env: dict[str, str], log: Path, *, stop_on_exit: bool = False) -> None:
        self.env = env
        self.log = log
        argv = [sys.executable, "-m", "hauler.cli.main", "autoscale", "--backend", "local"]
        if stop_on_exit:
            argv.append("--stop-workers-on-exit")
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    def scale(self, workers: int) -> None:
        subprocess.run(
            [sys.executable, "-m", "hauler.cli.main", "scale", QUEUE, str(workers)],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def stacks(private_redis: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    ours = stack_env(f"{private_redis}/0", tmp_path / "ours")
    theirs = stack_env(f"{private_redis}/1", tmp_path / "theirs")
    yield ours, theirs
    for env in (ours, theirs):
        for pid in workers_of(env["HAULER_BROKER_URL"]):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_scale_down_and_exit_leave_another_stacks_workers_alone(
    stacks: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    ours, theirs = stacks
    # given: another stack's autoscaler running its 2 health workers on this host
    other = Autoscaler(theirs, tmp_path / "theirs.log")
    try:
        their_pids = wait_for(lambda: _exactly(workers_of(theirs["HAULER_BROKER_URL"]), 2), 90)

        # when: our autoscaler starts (minimum 2), scales down to 1, then exits with
        # --stop-workers-on-exit
        mine = Autoscaler(ours, tmp_path / "ours.log", stop_on_exit=True)
        try:
            started = wait_for(lambda: _exactly(workers_of(ours["HAULER_BROKER_URL"]), 2), 90)
        except AssertionError as exc:
            seen = len(workers_of(ours["HAULER_BROKER_URL"]))
            raise AssertionError(
                f"ours started {seen} of 2 (adopted theirs?)\n{mine.tail()}"
            ) from exc
        mine.scale(1)
        wait_for(lambda: _exactly(workers_of(ours["HAULER_BROKER_URL"]), 1), 60)
        after_scale = workers_of(theirs["HAULER_BROKER_URL"])
        mine.process.send_signal(signal.SIGTERM)
        mine.process.wait(timeout=90)
        ours_left = workers_of(ours["HAULER_BROKER_URL"])
        theirs_left = workers_of(theirs["HAULER_BROKER_URL"])

        # then: ours came and went; theirs are the same processes, untouched
        counts = (
            f"ours started {len(started)}, ours left after exit {len(ours_left)}; theirs "
            f"{len(their_pids)} before, {len(after_scale & their_pids)} after our scale-down, "
            f"{len(theirs_left & their_pids)} after our exit (stopped by us: "
            f"{len(their_pids - theirs_left)})"
        )
        print(counts)
        assert not started & their_pids, counts
        assert after_scale == their_pids, counts
        assert not ours_left, counts
        assert theirs_left == their_pids, f"{counts}\n{mine.tail()}"
    finally:
        other.process.send_signal(signal.SIGTERM)
        other.process.wait(timeout=30)


def _exactly(pids: set[int], count: int) -> set[int] | None:
    return pids if len(pids) == count else None


def test_docker_backend_lists_only_its_own_projects_containers(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    from tests.integration.compose_stack import build_hauler_image

    image = build_hauler_image()  # cached; this test may run before any other builds it
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(image)
    except Exception as exc:
        missing(f"a Docker engine with the {image} image ({exc})")
    from autoscale.backends.docker import MANAGED_LABEL, PROJECT_LABEL, DockerBackend

    # given: a worker-like container of another compose project
    theirs = f"other-{os.getpid()}"
    container = client.containers.run(
        image,
        entrypoint=["sleep"],
        command=["120"],
        labels={
            "hauler.queue": QUEUE,
            MANAGED_LABEL: "autoscaler",
            PROJECT_LABEL: theirs,
            "com.docker.compose.service": f"worker-{QUEUE}",
            "com.docker.compose.oneoff": "False",
        },
        detach=True,
    )
    try:
        env = {
            "HAULER_DATA_DIR": str(tmp_path),
            "HAULER_AUTOSCALE_DOCKER_PROJECT": f"mine-{os.getpid()}",
        }
        mine = DockerBackend(Settings.from_env(env))
        other = DockerBackend(Settings.from_env({**env, "HAULER_AUTOSCALE_DOCKER_PROJECT": theirs}))

        # when: our backend lists its workers and closes, stopping them
        listed = mine.workers(QUEUE)
        mine.close(stop_workers=True, timeout=10)
        container.reload()

        # then: it saw none and stopped nothing; their own backend sees theirs
        theirs_listed = [h.id for h in other.workers(QUEUE)]
        counts = (
            f"ours listed {len(listed)}, theirs listed {len(theirs_listed)}, "
            f"theirs {container.status}"
        )
        print(counts)
        assert listed == [], counts
        assert container.status == "running", counts
        assert theirs_listed == [container.id], counts
        other.client.close()
    finally:
        container.remove(force=True)
        client.close()
