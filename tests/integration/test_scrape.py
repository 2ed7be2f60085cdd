"""Prometheus, run with deploy/prometheus.yml, scrapes a live recorder, autoscaler and Flower.

The stack's file is used as shipped, only its targets pointed at this test's loopback
ports and the Flower password file at the one ``hauler flower`` wrote; the Flower job
keeps its ``basic_auth`` with ``password_file``. Flower itself: its REST API opens with the
login and the scrape login and answers 401 without; its ``/metrics`` serves Flower's metrics.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hauler.flower import SCRAPE_USER
from tests.integration.conftest import ROOT, _wait_http
from tests.integration.faults.sockets import free_port
from tests.integration.services import require_binary, wait_for
from tests.support.promql import ALERTS, PROMETHEUS_CONFIG

pytestmark = pytest.mark.integration


class Processes:
    """Subprocesses of this test, each with its log, stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        self.started.append((name, process, log))
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def stop(self) -> None:
        for _, process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process, log in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"--- {name} (tail) ---\n{log.read_text(errors='replace')[-1500:]}")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop()


def shipped_config_for(targets: dict[str, str], password_file: Path) -> dict[str, Any]:
    """deploy/prometheus.yml with its targets and Flower's password file replaced."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = "1s"
    config["rule_files"] = [str(ALERTS)]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        if "basic_auth" in job:
            assert job["basic_auth"]["username"] == SCRAPE_USER  # the login Flower accepts
            job["basic_auth"]["password_file"] = str(password_file)
    return config


def test_prometheus_scrapes_recorder_autoscaler_and_flower_with_the_shipped_config(
    recorder: subprocess.Popen[bytes],
    hauler_env: dict[str, str],
    processes: Processes,
    tmp_path: Path,
) -> None:
    prometheus = require_binary("prometheus")
    hauler = [sys.executable, "-m", "hauler.cli.main"]
    # given: an autoscaler (no workers: min 0) and `hauler flower` with a scrape password file
    scaler_port, flower_port, prom_port = free_port(), free_port(), free_port()
    password_file = tmp_path / "prometheus" / "flower-password"
    env = {
        **hauler_env,
        "HAULER_AUTOSCALE_QUEUES": "health",
        "HAULER_AUTOSCALE_HEALTH_MIN": "0",
        "HAULER_AUTOSCALE_METRICS_PORT": str(scaler_port),
        "HAULER_FLOWER_PORT": str(flower_port),
        "HAULER_FLOWER_SCRAPE_PASSWORD_FILE": str(password_file),
        "HAULER_FLOWER_BASIC_AUTH": "ops:flower-test-password",
    }
    scaler = processes.start("autoscaler", [*hauler, "autoscale"], env)
    flower = processes.start("flower", [*hauler, "flower"], env)
    base = f"http://127.0.0.1:{flower_port}"
    _wait_http(f"{base}/healthcheck", flower, processes.log("flower"), timeout=60)
    _wait_http(f"http://127.0.0.1:{scaler_port}/metrics", scaler, processes.log("autoscaler"))

    # when: Flower is called with each login and without, and Prometheus runs the shipped file
    scrape_login = (SCRAPE_USER, password_file.read_text())
    statuses = {
        who: requests.get(f"{base}/api/workers", auth=auth, timeout=10).status_code
        for who, auth in {
            "operator": ("ops", "flower-test-password"),
            "prometheus": scrape_login,
            "nobody": None,
            "wrong": (SCRAPE_USER, "not-it"),
        }.items()
    }
    metrics = requests.get(f"{base}/metrics", auth=scrape_login, timeout=10)
    targets = {
        "hauler-recorder": f"127.0.0.1:{hauler_env['HAULER_RECORDER_PORT']}",
        "hauler-autoscaler": f"127.0.0.1:{scaler_port}",
        "flower": f"127.0.0.1:{flower_port}",
    }
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(shipped_config_for(targets, password_file)))
    server = processes.start(
        "prometheus",
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        env,
    )
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", server, processes.log("prometheus"))

    def health() -> dict[str, str] | None:
        active = requests.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
        seen = {t["labels"]["job"]: t["health"] for t in active}
        return seen if set(seen.values()) == {"up"} and len(seen) == 3 else None

    # then: the API needs a login; Prometheus has every target up and the rules loaded
    assert statuses == {"operator": 200, "prometheus": 200, "nobody": 401, "wrong": 401}
    assert metrics.status_code == 200 and "flower_events_total" in metrics.text
    assert wait_for(health, timeout=30, interval=0.5) == dict.fromkeys(targets, "up")
    rules = requests.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
    assert sum(len(g["rules"]) for g in rules) == 9
    assert all(r["health"] != "err" for g in rules for r in g["rules"]), rules
    flower_up = requests.get(f"{api}/query", params={"query": 'up{job="flower"}'}, timeout=5)
    assert flower_up.json()["data"]["result"][0]["value"][1] == "1"
    assert scrape_login[1] not in processes.log("flower").read_text(errors="replace")
