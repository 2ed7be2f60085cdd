"""notify.send on a real worker: a 429 becomes a scheduled retry that delivers; Alertmanager's
webhook into the recorder reaches the same receivers (token required), secrets nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from celery import Celery
from sqlalchemy import select

from hauler.store.alerts_models import Notification
from hauler.store.db import session_scope
from tests.integration.services import wait_for
from tests.support.receivers import FakeReceiver

pytestmark = pytest.mark.integration

TOKEN = "intake-token-3f9a"


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeReceiver]]:
    made = {"hook": FakeReceiver("json").start(), "team": FakeReceiver("slack").start()}
    yield made
    for fake in made.values():
        fake.stop()


@pytest.fixture
def notify_env(hauler_env: dict[str, str], fakes: dict[str, FakeReceiver]) -> dict[str, str]:
    for name, fake in fakes.items():
        hauler_env[f"HAULER_NOTIFY_{name.upper()}_URL"] = fake.url
        hauler_env[f"HAULER_NOTIFY_{name.upper()}_KIND"] = fake.kind
    hauler_env["HAULER_NOTIFY_TEAM_SEVERITIES"] = "critical"
    hauler_env["HAULER_NOTIFY_INTAKE_TOKEN"] = TOKEN
    return hauler_env


def webhook_message(now: datetime) -> dict:
    started = (now - timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HaulerQueueNoWorkers"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "hauler",
        "groupLabels": {"alertname": "HaulerQueueNoWorkers"},
        "commonLabels": {"alertname": "HaulerQueueNoWorkers", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HaulerQueueNoWorkers",
                    "severity": "critical",
                    "queue_name": "media",
                },
                "annotations": {"summary": "queue media has a backlog and no worker"},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
                "fingerprint": "c0ffee",
            }
        ],
    }


def test_a_429_is_retried_on_schedule_and_alertmanager_alerts_reach_the_receivers(
    notify_env: dict[str, str],
    recorder,
    start_worker,
    client_app: Celery,
    fakes: dict[str, FakeReceiver],
    pg_url: str,
    tmp_path: Path,
):
    hook, team = fakes["hook"], fakes["team"]
    hook.fail_next, hook.retry_after = 1, 1
    worker = start_worker(["notify"], env=notify_env, concurrency=2)
    # when a message meets a 429, the task comes back at once and the retry is scheduled
    result = client_app.send_task(
        "notify.send", kwargs={"text": "deploy done", "title": "Deploy"}, queue="notify"
    ).get(timeout=60)
    assert result["receivers"]["hook"]["status"] == "deferred", result
    assert "team" not in result["receivers"]  # info is not the team's severity
    # then notify.deliver runs after Retry-After and delivers it
    wait_for(lambda: len(hook.accepted) == 1, timeout=30)
    assert hook.accepted[0].body["title"] == "Deploy"

    def logged() -> list[tuple[str, str]]:
        with session_scope(pg_url) as session:
            rows = session.scalars(select(Notification).order_by(Notification.id)).all()
            return [(r.receiver, r.outcome) for r in rows]

    wait_for(lambda: logged() == [("hook", "sent")], timeout=15)
    # when Alertmanager posts its webhook to the recorder: refused without the token…
    url = f"http://127.0.0.1:{notify_env['HAULER_RECORDER_PORT']}/api/v1/alerts"
    body = webhook_message(datetime.now(UTC))
    assert requests.post(url, json=body, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(url, json=body, headers=wrong, timeout=10).status_code == 401
    bad = requests.post(url, data=b"{", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    # …taken with it, and flushed at once (the alert is older than group_wait)
    ok = requests.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert ok.status_code == 200, ok.text
    wait_for(lambda: len(hook.accepted) == 2 and len(team.accepted) == 1, timeout=30)
    relayed = hook.accepted[1].body
    assert relayed["status"] == "firing"
    assert relayed["alerts"][0]["labels"]["queue_name"] == "media"
    assert "HaulerQueueNoWorkers" in team.accepted[0].body["text"]
    # the recorder counts what was sent, from the tasks' alert.sent events
    metrics = f"http://127.0.0.1:{notify_env['HAULER_RECORDER_PORT']}/metrics"
    wanted = 'hauler_alerts_sent_total{receiver="team",severity="critical"} 1.0'
    wait_for(lambda: wanted in requests.get(metrics, timeout=5).text, timeout=20)
    assert 'hauler_alerts_sent_total{receiver="hook",severity="info"} 1.0' in (
        requests.get(metrics, timeout=5).text
    )
    # and the webhook URLs' tokens and the intake token are in no log and no result
    logs = worker.log.read_text(errors="replace") + (tmp_path / "recorder.log").read_text()
    for secret in ("xoxTOKEN123", TOKEN):
        assert secret not in logs and secret not in json.dumps(result)
