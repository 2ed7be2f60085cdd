"""The hauler CLI: one clear line when a service is down; `up` starts and stops it all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from celery import Celery

from hauler.queues import QUEUES
from tests.integration.conftest import ROOT
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hauler.cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["status"], ["dlq", "list"], ["enqueue", "health.ping"]])
def test_unreachable_redis_is_one_line_without_a_traceback(hauler_env, command):
    env = {**hauler_env, "HAULER_BROKER_URL": "redis://127.0.0.1:1/0"}
    out = _run(env, *command)
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
    assert "Redis at redis://127.0.0.1:1/0 is unreachable" in out.stderr
    assert "HAULER_BROKER_URL" in out.stderr


def test_unreachable_database_is_one_line_without_a_traceback(hauler_env):
    env = {**hauler_env, "HAULER_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}
    out = _run(env, "dlq", "list")
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
    assert "database postgresql://postgres@127.0.0.1:1/test is unreachable" in out.stderr


def test_bad_settings_are_listed_one_per_line(hauler_env):
    env = {**hauler_env, "HAULER_RETRY_MAX": "x", "HAULER_QUEUE_HEALTH_CONCURRENCY": "0"}
    out = _run(env, "status")
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("hauler: configuration:") for line in lines)


def test_bad_json_arguments_name_the_option(hauler_env):
    out = _run(hauler_env, "enqueue", "health.ping", "--kwargs", "[1]")
    assert out.returncode == 1
    assert "invalid argument '--kwargs': must be a JSON object" in out.stderr


def test_enqueue_wait_prints_the_result(start_worker, hauler_cli):
    start_worker(["health"])
    out = hauler_cli("enqueue", "health.ping", "--kwargs", '{"delay": 0}', "--wait")
    assert out.returncode == 0, out.stderr
    task_id, *rest = out.stdout.splitlines()
    assert len(task_id) == 36 and json.loads("\n".join(rest))["pong"] is True


def test_up_runs_every_queue_and_ctrl_c_stops_everything(
    hauler_env: dict[str, str], client_app: Celery, tmp_path: Path
):
    # given `hauler up` on one machine (SQLite, no Flower, concurrency 1 to keep it light)
    env = dict(hauler_env)
    env["HAULER_DATABASE_URL"] = f"sqlite:///{tmp_path}/hauler.db"
    env["HAULER_RECORDER_PORT"] = "0"
    env["HAULER_AUTOSCALE_METRICS_PORT"] = "0"
    for queue in ("downloads", "uploads", "recovery", "media", "health", "notify"):
        env[f"HAULER_QUEUE_{queue.upper()}_CONCURRENCY"] = "1"
    up = subprocess.Popen(
        [sys.executable, "-m", "hauler.cli.main", "up", "--no-flower"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # when every queue is pinged
        queues = list(QUEUES)
        results = [client_app.send_task(f"{q}.ping", queue=q) for q in queues]
        # then each queue's own worker answers
        assert [r.get(timeout=120)["queue"] for r in results] == queues
        processes = wait_for(lambda: _descendants(up.pid), timeout=10)
        workers = [p for p in processes if " worker " in p[1]]
        assert len({cmd.split(" -n ")[1].split()[0] for _, cmd in workers}) == len(queues)
    finally:
        # and Ctrl-C stops every process it started
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=90)
    assert up.returncode == 0, output
    time.sleep(0.5)
    assert [pid for pid, _ in processes if psutil.pid_exists(pid)] == []


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            found.append((child.pid, " ".join(child.cmdline())))
        except psutil.NoSuchProcess:
            continue
    return found
