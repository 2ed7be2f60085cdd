"""The compose stack on the real Docker engine, brought up with Debian's docker-compose 1.29.

Hauler's image and the Debian stand-ins for redis/postgres/prometheus (deploy/compose/
test.yml), host networking on free ports. One test, in the order an operator meets it:
up and healthy; a foreign app's download → sprite → upload; Flower's API behind its
login; every Prometheus target up; a manual ``--scale`` adopted and scaled down by policy;
a burst scaled up and back down with nothing lost; ``down -v`` leaves nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from celery import Celery

from autoscale import decisions
from tests.integration.compose_stack import PORTS, Stack, build_images
from tests.integration.conftest import ROOT
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.media_samples import colour_video
from tests.integration.services import require_binary, wait_for

pytestmark = pytest.mark.integration

QUEUES = ("downloads", "uploads", "polling", "recovery", "media", "archives", "backups")
QUEUES += ("health", "notify", "maintenance")


@pytest.mark.parametrize(
    "overrides",
    [[], ["deploy/compose/static.yml"], ["deploy/compose/test.yml"]],
    ids=["stack", "static", "test"],
)
def test_the_file_is_valid_for_docker_compose_1_29_and_v2(overrides: list[str]):
    require_binary("docker-compose")
    files = [arg for name in ["docker-compose.yml", *overrides] for arg in ("-f", name)]
    ports = {f"HAULER_TEST_{n.upper()}_PORT": "1" for n in PORTS} | {
        "HAULER_TEST_PROMETHEUS_CONFIG": "/dev/null"
    }
    env = {"PATH": "/usr/bin:/bin", **ports}
    commands = [["docker-compose"]]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        commands.append(["docker", "compose"])  # the v2 plugin, where it is installed
    for command in commands:
        done = subprocess.run(
            [*command, "-p", "hauler-compose-check", *files, "config", "-q"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
    services = subprocess.run(
        ["docker-compose", "-p", "hauler-compose-check", *files, "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    config = yaml.safe_load(services)["services"]
    assert {f"worker-{q}" for q in QUEUES} <= set(config)
    autoscaler = config["autoscaler"]
    assert autoscaler.get("profiles") == (
        ["autoscaler"] if overrides == ["deploy/compose/static.yml"] else None
    )
    # the data volume its copies (workers made when a service has none) need
    assert any(":/data" in str(v) or "'target': '/data'" in str(v) for v in autoscaler["volumes"])


def _nodes(app: Celery) -> set[str]:
    return {node for reply in app.control.ping(timeout=1.0) or [] for node in reply}


def _moves(stack: Stack, queue: str) -> list[tuple[int, int]]:
    rows = decisions.recent(stack.database_url, limit=50, queue=queue)
    return [(r.from_workers, r.to_workers) for r in reversed(rows)]


def _health_workers(engine, stack: Stack) -> list:
    labels = [f"com.docker.compose.project={stack.project}"]
    labels.append("com.docker.compose.service=worker-health")
    return engine.containers.list(filters={"label": labels})


@pytest.fixture
def stack(tmp_path: Path):
    images = build_images()
    import docker

    engine = docker.from_env()
    stack = Stack(tmp_path, images)
    yield stack, engine
    with contextlib.suppress(AssertionError):  # what it leaves is removed below
        stack.compose("down", "-v", "--remove-orphans", "-t", "20")
    stack.remove_leftovers(engine)
    engine.close()


def test_the_stack_runs_scales_and_goes_away(stack, tmp_path: Path):
    stack, engine = stack
    ffmpeg = require_binary("ffmpeg")
    video = colour_video(ffmpeg, tmp_path / "clip.mp4", "h264.mp4", segment=0.5, size="160x120")
    server = LoopbackServer(resources={"/clip.mp4": Resource(video.read_bytes())}).start()
    app = Celery("smoke", broker=stack.broker_url, backend=stack.broker_url)
    started = time.monotonic()
    try:
        # given the stack, up with docker-compose 1.29 (compose waits for redis/postgres
        # health and the migration)
        stack.compose("up", "-d", timeout=400)
        ports = stack.ports
        wait_for(
            lambda: _ok(f"http://127.0.0.1:{ports['recorder']}/health"), timeout=90, interval=1
        )
        wait_for(
            lambda: all(any(n.startswith(f"{q}-") for n in _nodes(app)) for q in QUEUES),
            timeout=150,
            interval=2,
        )
        print(f"up and every queue served after {time.monotonic() - started:.0f}s")

        # when a foreign app (plain Celery, no Hauler) downloads, makes a sprite, uploads
        foreign = [sys.executable, str(ROOT / "tests/integration/foreign_app.py")]
        urls = [stack.broker_url, server.url("/clip.mp4"), server.url("/incoming/sprite.jpg")]
        out = subprocess.run(
            [*foreign, *urls],
            capture_output=True,
            text=True,
            timeout=400,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert out.returncode == 0, out.stderr[-3000:] + stack.logs("worker-media")
        done = json.loads(out.stdout)
        # then each step ran in the stack and the sprite arrived intact
        assert done["imported"] == []
        assert done["fetched"]["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
        assert (done["sprite"]["cols"], done["sprite"]["rows"]) == (2, 2)
        (upload,) = server.received["/incoming/sprite.jpg"]
        assert upload["sha256"] == done["pushed"]["sha256"]
        assert upload["body"][:3] == b"\xff\xd8\xff"  # a JPEG

        # Flower's API answers with its login, and refuses without (401)
        flower = f"http://127.0.0.1:{ports['flower']}/api/workers"
        user, password = stack.flower_auth.split(":", 1)
        wait_for(lambda: _ok(flower, auth=(user, password)), timeout=60, interval=1)
        assert requests.get(flower, timeout=10).status_code == 401
        assert requests.get(flower, auth=(user, "wrong"), timeout=10).status_code == 401

        # Prometheus scrapes every target of deploy/prometheus.yml, all up
        def targets() -> list[dict]:
            url = f"http://127.0.0.1:{ports['prometheus']}/api/v1/targets"
            found = requests.get(url, timeout=5).json()["data"]["activeTargets"]
            return found if found and all(t["health"] == "up" for t in found) else []

        up = wait_for(targets, timeout=60, interval=1)
        shipped = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())["scrape_configs"]
        assert {t["labels"]["job"] for t in up} == {job["job_name"] for job in shipped}

        # a manual `--scale worker-health=3` is adopted: counted, then scaled to min by policy
        stack.compose("up", "-d", "--no-deps", "--scale", "worker-health=3", "worker-health")
        wait_for(lambda: any(to == 1 for _, to in _moves(stack, "health")), timeout=90, interval=1)
        moves = _moves(stack, "health")
        # it counted compose's containers (more than its own one: all three, or two when it
        # looked while compose was still creating the third) and only ever stopped some (no
        # duplicate started); an idle queue may drop to its floor in one step or step by step
        assert moves[0][0] >= 2 and all(after < before for before, after in moves), moves
        wait_for(lambda: len(_health_workers(engine, stack)) == 1, timeout=60, interval=1)

        # a burst on the health queue scales its service up to its max, then back down
        burst = [
            app.send_task("health.ping", kwargs={"delay": 1}, queue="health") for _ in range(24)
        ]
        wait_for(lambda: len(stack.ps("worker-health")) == 3, timeout=90, interval=0.5)
        made = [c for c in _health_workers(engine, stack) if "hauler.node" in c.labels]
        assert made, "the autoscaler's containers carry compose's labels and are listed"
        assert all(c.labels["com.docker.compose.oneoff"] == "False" for c in made)
        assert all(r.get(timeout=180)["pong"] for r in burst)  # nothing lost
        wait_for(lambda: len(_health_workers(engine, stack)) == 1, timeout=120, interval=1)
        assert max(after for _, after in _moves(stack, "health")) == 3  # the max, not above
        print(f"burst handled after {time.monotonic() - started:.0f}s")
    except BaseException:
        print(stack.logs("migrate", "autoscaler", "worker-health", "recorder", "flower"))
        raise
    finally:
        app.close()
        server.stop()

    # `docker-compose down -v` leaves nothing of the project: containers, networks, volumes
    stack.compose("down", "-v", "-t", "20", timeout=300)
    assert stack.leftovers(engine) == {"containers": [], "networks": [], "volumes": []}
    print(f"smoke test {time.monotonic() - started:.0f}s")


def _ok(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        return requests.get(url, auth=auth, timeout=5).status_code == 200
    except requests.RequestException:
        return False
