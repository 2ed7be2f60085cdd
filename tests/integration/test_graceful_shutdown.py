"""``hauler up`` on SIGTERM: maintenance announced, the running task finishes, "back" on restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from celery import Celery

from hauler.queues import QUEUES
from tests.integration.conftest import ROOT
from tests.integration.http_server import free_port
from tests.integration.services import wait_for
from tests.support.receivers import FakeReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def ops() -> Iterator[FakeReceiver]:
    fake = FakeReceiver("json").start()
    yield fake
    fake.stop()


def up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", "up", "--no-flower"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError(f"hauler up did not stop:\n{log.read_text()[-3000:]}") from None


def titles(fake: FakeReceiver) -> list[str]:
    return [r.body["title"] for r in fake.accepted]


def test_sigterm_announces_maintenance_finishes_the_running_task_and_restart_says_back(
    hauler_env: dict[str, str], ops: FakeReceiver, client_app: Celery, tmp_path: Path
):
    env = dict(hauler_env)
    env.update(
        HAULER_NOTIFY_OPS_URL=ops.url,
        HAULER_NOTIFY_OPS_KIND="json",
        HAULER_NOTIFY_OPS_MAINTENANCE="true",
        HAULER_RECORDER_PORT=str(free_port()),
        HAULER_AUTOSCALE_METRICS_PORT=str(free_port()),
        HAULER_AUTOSCALE_QUEUES="health",
        HAULER_AUTOSCALE_INTERVAL="1",
        HAULER_AUTOSCALE_HEALTH_MIN="1",
        HAULER_AUTOSCALE_HEALTH_MAX="1",
        HAULER_SCHEDULE_WATCH="off",
        HAULER_SCHEDULE_POLL_CLIENTS="off",
        **{f"HAULER_AUTOSCALE_{q.upper()}_MIN": "0" for q in QUEUES if q != "health"},
    )
    log = tmp_path / "up.log"
    process = up(env, log)
    try:
        client_app.send_task("health.ping", queue="health").get(timeout=90)  # workers are up
        assert titles(ops) == []  # a first start is no return from maintenance
        # given a task that is running when SIGTERM comes
        running = client_app.send_task("health.ping", kwargs={"delay": 2}, queue="health")
        wait_for(lambda: running.state == "STARTED", timeout=30)
        # when hauler up is told to stop
        assert stop(process, log) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    # then the maintenance receiver heard of it before the task ended, and the task ended well
    assert titles(ops) == ["Hauler is stopping for maintenance"], log.read_text()[-2000:]
    finished = datetime.fromisoformat(running.get(timeout=10)["at"]).timestamp()
    assert ops.accepted[0].at < finished
    assert "asked to stop (SIGTERM)" in ops.accepted[0].body["text"]
    # when it starts again, it says it is back (and how long it was away)
    process = up(env, log)
    try:
        wait_for(lambda: len(ops.accepted) == 2, timeout=60)
        assert titles(ops)[1] == "Hauler is back"
        assert "of maintenance" in ops.accepted[1].body["text"]
    finally:
        stop(process, log)
    assert "xoxTOKEN123" not in log.read_text()
