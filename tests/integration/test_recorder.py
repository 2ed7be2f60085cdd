"""The recorder keeps events through a database outage and exports Celery-style metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from celery import Celery
from sqlalchemy import func, select

from hauler.store.db import session_scope
from hauler.store.models import Activity
from tests.integration.conftest import ROOT, _wait_http
from tests.integration.services import wait_for
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def _count(pg_url: str, correlation: str | None = None) -> int:
    with session_scope(pg_url) as session:
        query = select(func.count()).select_from(Activity)
        if correlation:
            query = query.where(Activity.correlation_id == correlation)
        return int(session.scalar(query) or 0)


def test_events_during_a_database_outage_are_buffered_then_written(
    start_worker, client_app: Celery, hauler_env: dict[str, str], pg_url: str, tmp_path: Path
):
    # given a recorder that reaches PostgreSQL through a proxy we can cut
    proxy = TcpProxy("127.0.0.1", 5432)
    env = dict(hauler_env)
    env["HAULER_DATABASE_URL"] = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    port = _free_port()
    env["HAULER_RECORDER_PORT"] = str(port)
    log = tmp_path / "recorder.log"
    with log.open("ab") as out:
        recorder = subprocess.Popen(
            [sys.executable, "-m", "hauler.cli.main", "recorder"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics", recorder, log)
        start_worker(["health"], concurrency=2)
        # when the database goes away while tasks run
        proxy.cut()
        results = [client_app.send_task("health.ping", queue="health") for _ in range(20)]
        for result in results:
            result.get(timeout=30)
        health = wait_for(
            lambda: (
                (r := requests.get(f"http://127.0.0.1:{port}/health", timeout=2)).status_code == 503
                and r.json().get("database_error")
                and r.json()
            ),  # 503 alone may be another check of the deployment's document
            timeout=30,
        )
        # then the recorder reports itself unhealthy and holds the rows
        assert health["database_error"]
        assert _count(pg_url) == 0
        # and when the database comes back, every event is written and none dropped
        proxy.restore()
        ids = {r.id for r in results}
        wait_for(lambda: _task_ids_succeeded(pg_url) >= ids, timeout=60)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert "hauler_recorder_events_dropped 0.0" in metrics
        assert 'celery_task_succeeded_total{hostname="w1@' in metrics
        assert "celery_task_runtime_bucket" in metrics
        assert 'celery_queue_length{queue_name="health"}' in metrics
        assert 'hauler_queue_latency_seconds{queue_name="health"}' in metrics
    finally:
        recorder.terminate()
        recorder.wait(timeout=30)
        proxy.close()


def _task_ids_succeeded(pg_url: str) -> set[str]:
    with session_scope(pg_url) as session:
        rows = session.scalars(select(Activity.task_id).where(Activity.status == "SUCCESS"))
        return {r for r in rows if r}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_latency_gauge_reads_the_age_of_the_oldest_waiting_message(
    recorder, hauler_env: dict[str, str], hauler_cli
):
    # given messages waiting in a queue nobody consumes
    for _ in range(3):
        out = hauler_cli("enqueue", "backups.ping", "--kwargs", "{}")
        assert out.returncode == 0, out.stderr
    port = hauler_env["HAULER_RECORDER_PORT"]

    # when the recorder samples the queues, then depth is 3 and latency is above zero
    def sampled() -> bool:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        return 'celery_queue_length{queue_name="backups"} 3.0' in text and _latency(text) > 0

    wait_for(sampled, timeout=30)


def _latency(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('hauler_queue_latency_seconds{queue_name="backups"}'):
            return float(line.split()[-1])
    return 0.0
