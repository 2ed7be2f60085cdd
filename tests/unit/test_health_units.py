"""Health without servers: the document, thresholds, settings, schedules, the supervisor."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery.schedules import crontab, schedule

from hauler.errors import ConfigurationError
from hauler.health import disk
from hauler.health.context import ProbeContext, age_text
from hauler.health.document import (
    MEDIA_TYPE,
    Observation,
    Status,
    build,
    check_statuses,
    failing,
    http_status,
)
from hauler.health.heal import backoff
from hauler.health.history import schedule_period
from hauler.health.report import summary
from hauler.health.restarters import _docker_time
from hauler.recorder.metrics import Metrics
from hauler.settings import Settings
from hauler.supervisor import Supervisor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _document() -> dict:
    return build(
        [
            Observation("broker:responseTime", Status.PASS, 1.2, "ms", component_type="datastore"),
            Observation("workers:live", Status.PASS, 2, "workers", component_id="media"),
            Observation("workers:live", Status.FAIL, 0, "workers", "3 waiting", "downloads"),
            Observation("disk:freeRatio", Status.WARN, 0.08, "ratio", "low", "data"),
        ],
        now=NOW,
        service_id="d1",
    )


def test_the_document_follows_the_health_check_draft():
    document = _document()
    # the worst status wins; checks are keyed component:measurement with lists of entries
    assert document["status"] == "fail"
    assert MEDIA_TYPE == "application/health+json"
    entry = document["checks"]["workers:live"][1]
    assert entry == {
        "componentId": "downloads",
        "componentType": "component",
        "observedValue": 0,
        "observedUnit": "workers",
        "status": "fail",
        "time": "2026-12-01T12:00:00+00:00",
        "output": "3 waiting",
    }
    assert document["output"] == "workers/downloads: 3 waiting; disk/data: low"
    assert http_status(document) == 503


def test_failing_targets_and_check_statuses_for_the_metrics():
    document = _document()
    assert failing(document) == ["workers/downloads"]
    assert failing(document, Status.WARN) == ["disk/data", "workers/downloads"]
    statuses = check_statuses(document)
    assert statuses["workers:live"] == 2 and statuses["workers:live/media"] == 0
    assert statuses["disk:freeRatio/data"] == 1 and statuses["broker:responseTime"] == 0
    brief = summary(document)
    assert brief["warning"] == ["disk/data"] and brief["disk_free"] == {"data": 0.08}


def test_a_warning_document_still_answers_200():
    document = build([Observation("backup:age", Status.WARN, None, "s", "none yet")], now=NOW)
    assert document["status"] == "warn" and http_status(document) == 200
    assert build([], now=NOW)["status"] == "pass"


def test_the_recorder_sets_its_gauges_from_a_health_checked_event():
    metrics = Metrics()
    payload = summary(_document()) | {"clients_up": {"aria2": False}}
    metrics.observe({"type": "hauler-activity", "kind": "health.checked", "payload": payload}, None)
    metrics.observe(
        {"type": "hauler-health-heal", "component": "recorder", "outcome": "healed"}, None
    )
    registry = metrics.registry
    assert registry.get_sample_value("hauler_health_status", {"check": "workers:live"}) == 2
    assert registry.get_sample_value("hauler_disk_free_ratio", {"dir": "data"}) == 0.08
    assert registry.get_sample_value("hauler_download_client_up", {"client": "aria2"}) == 0
    labels = {"component": "recorder", "outcome": "healed"}
    assert registry.get_sample_value("hauler_heal_attempts_total", labels) == 1


def test_disk_thresholds_warn_then_fail(tmp_path: Path):
    ratio, free, total = disk.free_ratio(tmp_path / "not" / "made" / "yet")
    assert 0 <= ratio <= 1 and 0 <= free <= total
    base = {"HAULER_DATA_DIR": str(tmp_path)}

    def status(warn: str, fail: str) -> set[str]:
        env = base | {"HAULER_HEALTH_DISK_WARN_RATIO": warn, "HAULER_HEALTH_DISK_FAIL_RATIO": fail}
        return {o.status.word for o in disk.disk(ProbeContext(Settings.from_env(env)))}

    assert status("0", "0") == {"pass"}
    assert status("1.01", "0") == {"warn"}
    assert status("1.01", "1.01") == {"fail"}


def test_health_settings_are_read_and_checked():
    settings = Settings.from_env(
        {
            "HAULER_HEALTH_HEAL": (
                "recorder=supervisor:recorder, downloadClient/qbittorrent=container:qb"
            ),
            "HAULER_HEALTH_SKIP": "backup,autoscaler",
        }
    ).health
    assert dict(settings.heal) == {
        "recorder": "supervisor:recorder",
        "downloadClient/qbittorrent": "container:qb",
    }
    assert settings.skip == ("backup", "autoscaler") and settings.heal_attempts == 3
    with pytest.raises(ConfigurationError) as bad:
        Settings.from_env(
            {
                "HAULER_HEALTH_HEAL": "recorder=reboot:now",
                "HAULER_HEALTH_SKIP": "coffee",
                "HAULER_HEALTH_DISK_FAIL_RATIO": "0.5",
            }
        )
    text = str(bad.value)
    assert "HAULER_HEALTH_HEAL: 'recorder=reboot:now'" in text
    assert "'coffee' is not a component" in text
    assert "HAULER_HEALTH_DISK_FAIL_RATIO=0.5 is above" in text


def test_schedule_periods_and_backoff():
    assert schedule_period(300.0) == 300
    assert schedule_period(schedule(run_every=120)) == 120
    assert schedule_period(crontab(hour="4", minute="0")) == 86400
    assert schedule_period(crontab(hour="4", minute="0", day_of_week="sun")) == 7 * 86400
    assert schedule_period(crontab(minute="*/15")) == 900
    settings = Settings.from_env({"HAULER_HEALTH_HEAL_BACKOFF": "30"})
    assert [backoff(settings, n) for n in (1, 2, 3)] == [30, 60, 120]
    assert age_text(30) == "30 s" and age_text(5400) == "90.0 min" and age_text(86400) == "24.0 h"


def test_docker_start_times_are_parsed():
    assert _docker_time("2026-12-01T12:00:00.123456789Z") == pytest.approx(
        datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC).timestamp()
    )
    assert _docker_time("0001-01-01T00:00:00Z") is None
    assert _docker_time("") is None


def test_the_supervisor_restarts_a_stopped_child_on_request(tmp_path: Path):
    # given a supervised child that is stopped (SIGSTOP): alive, doing nothing
    supervisor = Supervisor({}, tmp_path, grace=5, restart_grace=2)
    child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    assert child.process is not None
    first, started = child.process.pid, child.started_at
    subprocess.run(["kill", "-STOP", str(first)], check=True)
    try:
        # when a restart is asked for
        assert supervisor.restart("sleeper") and not supervisor.restart("nobody")
        deadline = time.monotonic() + 20
        while child.process.pid == first and time.monotonic() < deadline:
            supervisor._reap(restart_limit=5)
            time.sleep(0.1)
        # then it runs again as a new process, counted as starting now, not as a crash
        assert child.process.pid != first and child.process.poll() is None
        assert child.started_at > started and child.restarts == 0
        described = supervisor.describe()["sleeper"]
        assert described["pid"] == child.process.pid and described["running"]
    finally:
        supervisor.stop()
