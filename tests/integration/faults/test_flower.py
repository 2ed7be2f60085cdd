"""Flower under `hauler up`: its API needs the login, which never appears on a command line."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from celery import Celery

from hauler.flower import CREDENTIALS_FILE
from tests.integration.conftest import ROOT
from tests.integration.faults.sockets import free_port, listening
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def argv_holding(secret: str) -> list[str]:
    """Command lines of every process on this host that contain ``secret`` (``ps`` shows them)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info.get("cmdline") or [])
        if secret in line:
            found.append(line)
    return found


def flower_pid(root: int) -> int | None:
    for child in psutil.Process(root).children(recursive=True):
        try:
            if "flower" in child.cmdline():
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def api_ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthcheck", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def up(hauler_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``hauler up`` (health workers only, to keep it light) with Flower on a free port."""
    port = free_port()
    env = {
        **hauler_env,
        "HAULER_FLOWER_PORT": str(port),
        "HAULER_RECORDER_PORT": "0",
        "HAULER_AUTOSCALE_METRICS_PORT": "0",
        "HAULER_AUTOSCALE_QUEUES": "health",
        "HAULER_QUEUE_HEALTH_CONCURRENCY": "1",
    }
    env.pop("HAULER_FLOWER_BASIC_AUTH", None)
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", "up"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: api_ready(base), timeout=60, interval=0.3)
        yield {"process": process, "base": base, "port": port, "out": out, "env": env}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
        print(f"--- hauler up output ---\n{out.read_text(errors='replace')[-2000:]}")


def test_up_generates_a_login_the_api_needs_and_keeps_it_off_argv(
    up: dict[str, Any], hauler_env: dict[str, str], client_app: Celery
) -> None:
    # given: `hauler up` started for the first time in this data dir
    base, port = up["base"], up["port"]
    stored = Path(hauler_env["HAULER_DATA_DIR"]) / CREDENTIALS_FILE
    login = json.loads(stored.read_text())["basic_auth"]
    user, password = login.split(":", 1)
    printed = re.findall(r"flower login\s+(\S+)", up["out"].read_text())

    # when: the API is called with the login, without it and with a wrong one
    with_login = requests.get(f"{base}/api/workers", auth=(user, password), timeout=10)
    without = requests.get(f"{base}/api/workers", timeout=10)
    wrong = requests.get(f"{base}/api/workers", auth=(user, password + "x"), timeout=10)
    sent = requests.post(
        f"{base}/api/task/send-task/health.ping",
        json={"args": [], "kwargs": {}},
        auth=(user, password),
        timeout=10,
    )
    refused = requests.post(
        f"{base}/api/task/send-task/health.ping", json={"args": [], "kwargs": {}}, timeout=10
    )

    # then: 200 with the login (a real ping ran), 401 otherwise; the login was printed
    # once, is stored 0600, and no command line on the host holds the password
    statuses = (with_login.status_code, without.status_code, wrong.status_code)
    assert statuses == (200, 401, 401), f"with/without/wrong login: {statuses}"
    assert sent.status_code == 200, sent.text
    assert refused.status_code == 401, refused.text
    pong = client_app.AsyncResult(sent.json()["task-id"]).get(timeout=60)
    assert pong["pong"] is True, pong
    assert printed == [login], f"printed {len(printed)} login line(s)"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600, oct(stored.stat().st_mode)
    pid = flower_pid(up["process"].pid)
    assert pid is not None
    assert password not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert argv_holding(password) == [], "the Flower password is on a command line"
    assert listening(pid, port) == {"127.0.0.1"}, listening(pid, port)


def test_flower_takes_the_configured_login_and_a_restart_keeps_the_cookie_secret(
    hauler_env: dict[str, str], tmp_path: Path
) -> None:
    # given: HAULER_FLOWER_BASIC_AUTH set, and a cookie secret stored by an earlier start
    port = free_port()
    secret_login = f"ops:{os.urandom(9).hex()}"
    env = {**hauler_env, "HAULER_FLOWER_PORT": str(port), "HAULER_FLOWER_BASIC_AUTH": secret_login}
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "flower.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "hauler.cli.main", "flower"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    statuses = []
    secrets_seen = []
    stored = Path(hauler_env["HAULER_DATA_DIR"]) / CREDENTIALS_FILE
    # when: `hauler flower` starts twice and the API is called with that login and without
    for _ in range(2):
        flower = start()
        try:
            wait_for(lambda: api_ready(base), timeout=60, interval=0.3)
            user, password = secret_login.split(":", 1)
            statuses.append(
                (
                    requests.get(
                        f"{base}/api/workers", auth=(user, password), timeout=10
                    ).status_code,
                    requests.get(f"{base}/api/workers", timeout=10).status_code,
                )
            )
            secrets_seen.append(json.loads(stored.read_text())["cookie_secret"])
            on_argv = argv_holding(password)
            environ = psutil.Process(flower.pid).environ()
        finally:
            flower.send_signal(signal.SIGTERM)
            flower.wait(timeout=30)

        # then: the configured login opens the API; it went by environment, not argv
        assert on_argv == [], "the Flower password is on a command line"
        assert environ.get("FLOWER_BASIC_AUTH") == secret_login
        assert environ.get("FLOWER_COOKIE_SECRET") == secrets_seen[-1]
    assert statuses == [(200, 401), (200, 401)], f"(with, without) login per start: {statuses}"
    assert secrets_seen[0] == secrets_seen[1], "the cookie secret changed across restarts"
    assert secret_login.split(":", 1)[1] not in log.read_text(errors="replace")
