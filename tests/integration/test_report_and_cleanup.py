"""The daily report from a seeded activity log, sent through notify; retention with counts."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from hauler import maintenance
from hauler.settings import Settings
from hauler.store.alerts_models import Notification
from hauler.store.autoscale_models import ScalingDecision
from hauler.store.db import session_scope
from hauler.store.downloads_models import Download
from hauler.store.models import Activity, DeadLetter
from tests.support.receivers import FakeReceiver

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def hook() -> Iterator[FakeReceiver]:
    fake = FakeReceiver("json").start()
    yield fake
    fake.stop()


def settings_for(redis_url: str, pg_url: str, tmp: Path, **extra: str) -> Settings:
    env = {
        "HAULER_BROKER_URL": redis_url,
        "HAULER_DATABASE_URL": pg_url,
        "HAULER_DATA_DIR": str(tmp),
        "HAULER_REPORT_TIMEZONE": "Europe/Paris",
        **extra,
    }
    return Settings.from_env(env)


def task_rows(queue: str, name: str, *statuses: str, ago: float = 600) -> list[Activity]:
    task_id = uuid.uuid4().hex
    when = NOW - timedelta(seconds=ago)
    return [
        Activity(
            occurred_at=when + timedelta(seconds=n),
            recorded_at=when,
            event_type="task-" + status.lower(),
            task_id=task_id,
            task_name=name,
            queue=queue,
            status=status,
            payload={"reason": "exhausted"} if status == "DEAD_LETTERED" else {},
        )
        for n, status in enumerate(statuses)
    ]


def event(kind: str, ago: float = 300, **payload: Any) -> Activity:
    when = NOW - timedelta(seconds=ago)
    return Activity(
        occurred_at=when, recorded_at=when, event_type=kind, task_id=None, payload=payload
    )


def seed(url: str) -> None:
    rows = [
        *task_rows("downloads", "downloads.fetch", "RECEIVED", "STARTED", "SUCCESS"),
        *task_rows("downloads", "downloads.fetch", "STARTED", "RETRY", "STARTED", "SUCCESS"),
        *task_rows("media", "media.thumbnail", "STARTED", "FAILURE", "DEAD_LETTERED"),
        *task_rows("media", "media.thumbnail", "STARTED", "SUCCESS", ago=30 * 3600),  # too old
        event("download.failed", client="sabnzbd", category="missing-articles", job_id="n1"),
        event("download.failed", client="nzbget", category="missing-articles", job_id="n2"),
        event("download.failed", client="aria2", category="network", job_id="a1"),
        event("recovery.retry-started", category="missing-articles"),
        event("recovery.recovered", category="network"),
        event("recovery.gave-up", category="missing-articles", job_id="n1"),
        event("backup.made", database="hauler"),
        event("backup.verified", database="hauler"),
        event("alert.suppressed", reason="inhibited", count=2),
        event("health.checked", status="warn", failing=[], warning=["disk:freeRatio"]),
    ]
    with session_scope(url) as session:
        session.add_all(rows)
        for client, size, seconds in (
            ("http", 1000, 1.0),
            ("aria2", 4000, 2.0),
            ("aria2", 9000, 1.0),
        ):
            session.add(
                Download(
                    task_id=uuid.uuid4().hex,
                    url="https://example.invalid/x",
                    client=client,
                    reason="test",
                    path="/tmp/x",
                    bytes=size,
                    sha256="0" * 64,
                    seconds=seconds,
                    finished_at=NOW - timedelta(minutes=30),
                )
            )
        session.add(
            ScalingDecision(
                decided_at=NOW - timedelta(hours=1),
                queue="media",
                from_workers=1,
                to_workers=3,
                reason="latency",
                signals={},
                backend="local",
            )
        )
        session.add(
            Notification(
                at=NOW - timedelta(hours=2),
                receiver="hook",
                group_key="{alertname=disk-low}",
                kind="alert",
                status="firing",
                severity="warning",
                reason="first",
                title="[WARNING] disk-low: 1 firing",
                firing=["f"],
                resolved=[],
                outcome="sent",
                detail="",
            )
        )


def test_the_daily_report_from_a_seeded_activity_log_is_json_and_a_readable_message(
    redis_url: str, pg_url: str, tmp_path: Path, hook: FakeReceiver
):
    seed(pg_url)
    settings = settings_for(
        redis_url, pg_url, tmp_path, HAULER_NOTIFY_HOOK_URL=hook.url, HAULER_NOTIFY_HOOK_KIND="json"
    )
    data = maintenance.send_daily_report(settings, now=NOW, hours=24)
    assert data["queues"] == {
        "downloads": {"succeeded": 2},
        "media": {"dead_lettered": 1},
    }
    assert data["downloads"]["count"] == 3 and data["downloads"]["bytes"] == 14000
    assert data["downloads"]["by_client"]["aria2"] == {"count": 2, "bytes": 13000}
    assert data["downloads"]["median_rate_bytes_per_second"] == 2000
    failures = data["failures"]
    assert failures["by_category"] == {"missing-articles": 2, "network": 1}
    assert failures["recovery"] == {"retry-started": 1, "recovered": 1, "gave-up": 1}
    assert data["backups"] == {"made": 1, "verified": 1, "bad": 0, "pruned": 0}
    assert data["autoscaler"]["by_queue"]["media"] == {"up": 1, "down": 0, "max_workers": 3}
    assert data["health"]["status"] == "warn"
    assert data["alerts"]["fired"] == ["[WARNING] disk-low: 1 firing"]
    assert data["alerts"]["suppressed"] == {"inhibited": 2}
    assert data["sent"]["hook"]["status"] == "sent"
    (received,) = hook.accepted
    assert received.body["kind"] == "report"
    text = received.body["text"]
    assert "downloads: succeeded 2" in text and "*Backups*: made 1, verified 1" in text
    assert "Europe/Paris" in text
    json.dumps(data)  # plain JSON, as the task returns it


def test_cleanup_removes_what_is_past_retention_and_counts_each_kind(
    redis_url: str, pg_url: str, tmp_path: Path
):
    settings = settings_for(redis_url, pg_url, tmp_path, HAULER_STAGING_GRACE_HOURS="1")
    old = time.time() - 40 * 86400
    # Celery results: one kept by its TTL, one stale without TTL, one recent without TTL
    client = redis.Redis.from_url(redis_url)
    stale = json.dumps({"status": "SUCCESS", "date_done": "2026-01-01T00:00:00+00:00"})
    fresh = json.dumps({"status": "SUCCESS", "date_done": NOW.isoformat()})
    client.set("celery-task-meta-stale", stale)
    client.set("celery-task-meta-fresh", fresh)
    client.set("celery-task-meta-ttl", stale, ex=3600)
    # logs: one old, one current
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "worker.log.1").write_text("old")
    os.utime(logs / "worker.log.1", (old, old))
    (logs / "worker.log").write_text("new")
    # staging: an old leftover, and a fresh partial
    staging = tmp_path / "staging"
    (staging / "gone-job").mkdir(parents=True)
    (staging / "gone-job" / "part").write_text("x")
    for path in (staging / "gone-job" / "part", staging / "gone-job"):
        os.utime(path, (old, old))
    (staging / "live.part").write_text("y")
    # dead letters: a retried old one, a retried recent one, a dead old one
    with session_scope(pg_url) as session:
        for n, (state, days) in enumerate((("retried", 40), ("retried", 1), ("dead", 40))):
            when = NOW - timedelta(days=days)
            session.add(
                DeadLetter(
                    task_id=f"t{n}",
                    task_name="tests.flaky",
                    reason="exhausted",
                    exception="X",
                    first_failed_at=when,
                    last_failed_at=when,
                    state=state,
                )
            )
    result = maintenance.cleanup(settings, now=NOW, activity_days=30)
    assert result["results_deleted"] == 1
    assert client.exists("celery-task-meta-fresh") and client.exists("celery-task-meta-ttl")
    assert result["logs_deleted"] == 1 and (logs / "worker.log").exists()
    assert result["staging_deleted"] == 1 and (staging / "live.part").exists()
    assert result["dead_letters_deleted"] == 1
    assert result["backups"] == {"pruned": 0, "bytes": 0}  # an empty catalog keeps nothing to prune
