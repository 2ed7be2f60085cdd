"""The recorder and the autoscaler's metrics listen on loopback unless told otherwise."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT
from tests.integration.faults.sockets import free_port, listening
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def serve(argv: list[str], env: dict[str, str], port: int, log: Path) -> set[str]:
    """Start ``hauler ARGV…``, wait for ``/metrics`` on ``port``; the addresses it listens on."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", *argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/metrics", process), timeout=60)
        return listening(process.pid, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"exited with {process.returncode} before serving {url}")
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("address", [None, "0.0.0.0"])
def test_recorder_and_autoscaler_metrics_listen_on_the_configured_address(
    hauler_env: dict[str, str], tmp_path: Path, address: str | None
) -> None:
    # given: the default listen address, or HAULER_LISTEN_ADDRESS=0.0.0.0 (as compose sets)
    env = {**hauler_env, "HAULER_AUTOSCALE_QUEUES": "health", "HAULER_AUTOSCALE_HEALTH_MIN": "0"}
    if address:
        env["HAULER_LISTEN_ADDRESS"] = address
    recorder_port, metrics_port = free_port(), free_port()

    # when: the recorder and the autoscaler start
    recorder = serve(
        ["recorder", "--port", str(recorder_port)], env, recorder_port, tmp_path / "rec.log"
    )
    autoscaler = serve(
        ["autoscale", "--backend", "local"],
        {**env, "HAULER_AUTOSCALE_METRICS_PORT": str(metrics_port)},
        metrics_port,
        tmp_path / "autoscale.log",
    )

    # then: each listens on that address only
    expected = {address or "127.0.0.1"}
    assert (recorder, autoscaler) == (expected, expected), (
        f"recorder {recorder}, autoscaler {autoscaler}"
    )
