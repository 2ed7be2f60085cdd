"""The alert rules over a health document and real activity rows, with an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hauler.alerts import service
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Later:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []

    def __call__(self, task: str, kwargs: dict[str, Any], countdown: float) -> None:
        self.calls.append((task, kwargs, countdown))


def check(status: str, value: Any = None, component: str | None = None, output: str = ""):
    entry: dict[str, Any] = {"status": status, "time": NOW.isoformat(), "output": output}
    if value is not None:
        entry["observedValue"] = value
    if component:
        entry["componentId"] = component
    return [entry]


def document(**checks: list[dict[str, Any]]) -> dict[str, Any]:
    worst = {"pass": 0, "warn": 1, "fail": 2}
    status = max((e["status"] for v in checks.values() for e in v), key=worst.get, default="pass")
    return {"status": status, "checks": {k.replace("__", ":"): v for k, v in checks.items()}}


def seed(url: str, *rows: tuple[datetime, str, str | None, dict[str, Any]]) -> None:
    with session_scope(url) as session:
        for when, kind, status, payload in rows:
            session.add(
                Activity(
                    occurred_at=when,
                    recorded_at=when,
                    event_type=kind,
                    task_id=uuid.uuid4().hex,
                    task_name="tests.flaky" if status else "backups.verify",
                    status=status,
                    correlation_id="corr-1",
                    payload=payload,
                )
            )


@pytest.fixture
def settings(redis_url: str, pg_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "HAULER_BROKER_URL": redis_url,
            "HAULER_DATABASE_URL": pg_url,
            "HAULER_DATA_DIR": str(tmp_path),
            "HAULER_AUTOSCALE_DOWNLOADS_TARGET_LATENCY": "30",
        }
    )


def test_rules_fire_from_the_document_and_the_activity_log_and_resolve(
    settings: Settings, pg_url: str
):
    # given a broken broker, a low disk, a slow queue, 11 failures, a bad backup, a give-up
    seed(
        pg_url,
        *[(NOW - timedelta(seconds=10 * n), "task-failed", "FAILURE", {}) for n in range(11)],
        (NOW - timedelta(minutes=20), "backup.bad", None, {"database": "hauler", "error": "crc"}),
        (
            NOW - timedelta(minutes=5),
            "recovery.gave-up",
            None,
            {"job_id": "nzb-42", "category": "missing-articles", "message": "out of mirrors"},
        ),
    )
    doc = document(
        broker__responseTime=check("fail", output="connection refused"),
        disk__freeRatio=check("warn", 0.07, "/srv/downloads", "7% free"),
        queue__latency=check("warn", 95.0, "downloads"),
    )
    later = Later()
    first = service.evaluate(settings, doc, NOW, later=later)
    assert first["firing"] == [
        "backup-bad:hauler",
        "broker-down:broker",
        "disk-low:/srv/downloads",
        "recovery-gave-up:nzb-42",
        "task-failures:tasks",
    ]
    assert first["pending"] == ["queue-latency:downloads"]  # over target, not yet for 5 min
    flushes = {kw["group"] for task, kw, _ in later.calls if task == "notify.flush"}
    assert "{alertname=broker-down}" in flushes
    # when the latency stays over target for 5 minutes it fires too
    later_on = service.evaluate(settings, doc, NOW + timedelta(minutes=5), later=later)
    assert "queue-latency:downloads" in later_on["firing"]
    assert later_on["resolved"] == ["task-failures:tasks"]  # they left the 5-minute window
    # when the broker answers, the disk is fine, the queue drains and a backup verifies
    seed(pg_url, (NOW + timedelta(minutes=6), "backup.verified", None, {"database": "hauler"}))
    healthy = document(
        broker__responseTime=check("pass", 0.4),
        disk__freeRatio=check("pass", 0.5, "/srv/downloads"),
        queue__latency=check("pass", 1.0, "downloads"),
    )
    after = service.evaluate(settings, healthy, NOW + timedelta(minutes=7), later=later)
    # then those alerts resolve; the give-up is still within its window (1 h)
    assert after["resolved"] == [
        "backup-bad:hauler",
        "broker-down:broker",
        "disk-low:/srv/downloads",
        "queue-latency:downloads",
    ]
    assert after["firing"] == ["recovery-gave-up:nzb-42"]


def test_failures_at_the_threshold_do_not_fire(settings: Settings, pg_url: str):
    seed(pg_url, *[(NOW - timedelta(seconds=n), "task-failed", "FAILURE", {}) for n in range(10)])
    seed(pg_url, (NOW - timedelta(minutes=6), "task-failed", "FAILURE", {}))  # outside 5 min
    assert service.evaluate(settings, document(), NOW, later=Later())["firing"] == []
