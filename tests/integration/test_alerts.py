"""Alert grouping, repeat, resolve and inhibition with an injected clock; receivers' limits.

The receivers are loopback servers that behave like Slack's, Discord's and a generic
webhook (tests/support/receivers.py): their rate limits, 429s and size limits are real
HTTP answers. Alert state lives in this test's PostgreSQL schema, pacing in its Redis db.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hauler.alerts import service
from hauler.alerts.model import Alert
from hauler.notify import service as notify
from hauler.notify.message import Message
from hauler.settings import Settings
from hauler.store.alerts_models import AlertGroup, Notification
from hauler.store.db import session_scope
from tests.support.receivers import FakeReceiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = "xoxTOKEN123"


class Later:
    """Records what would be scheduled (the clock is the test's)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []

    def __call__(self, task: str, kwargs: dict[str, Any], countdown: float) -> None:
        self.calls.append((task, kwargs, countdown))


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeReceiver]]:
    made = {kind: FakeReceiver(kind).start() for kind in ("slack", "discord", "json")}
    yield made
    for fake in made.values():
        fake.stop()


def make_settings(redis_url: str, pg_url: str, tmp: Path, **receivers: Any) -> Settings:
    env = {
        "HAULER_BROKER_URL": redis_url,
        "HAULER_DATABASE_URL": pg_url,
        "HAULER_DATA_DIR": str(tmp),
    }
    for name, (fake, extra) in receivers.items():
        env[f"HAULER_NOTIFY_{name.upper()}_URL"] = fake.url
        env[f"HAULER_NOTIFY_{name.upper()}_KIND"] = fake.kind
        env.update({f"HAULER_NOTIFY_{name.upper()}_{k}": v for k, v in extra.items()})
    return Settings.from_env(env)


def alert(name: str, instance: str, severity: str = "warning", **extra: Any) -> Alert:
    labels = {"alertname": name, "instance": instance, "severity": severity, **extra}
    return Alert(labels=labels, annotations={"summary": f"{name} on {instance}"}, starts_at=T0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_alerts_group_wait_then_interval_repeat_and_resolve(
    redis_url: str, pg_url: str, tmp_path: Path, fakes: dict[str, FakeReceiver]
):
    hook = fakes["json"]
    settings = make_settings(redis_url, pg_url, tmp_path, hook=(hook, {}))
    later = Later()
    # given a first alert: its group waits group_wait (30 s) for company
    service.receive(settings, [alert("queue-latency", "downloads")], at(0), later)
    assert later.calls == [("notify.flush", {"group": "{alertname=queue-latency}"}, 30.0)]
    assert service.flush(settings, "{alertname=queue-latency}", at(10), later)["due"] is False
    service.receive(settings, [alert("queue-latency", "media")], at(20), later)
    # when the group's wait is over: one message with both alerts
    done = service.flush(settings, "{alertname=queue-latency}", at(30), later)
    assert [s["reason"] for s in done["sent"]] == ["first"]
    assert len(hook.accepted) == 1
    body = hook.accepted[0].body
    assert body["version"] == "4" and body["status"] == "firing"
    assert sorted(a["labels"]["instance"] for a in body["alerts"]) == ["downloads", "media"]
    assert later.calls[-1] == ("notify.flush", {"group": "{alertname=queue-latency}"}, 300.0)
    # then an unchanged group is not sent again at the next interval…
    held = service.flush(settings, "{alertname=queue-latency}", at(330), later)
    assert held["sent"] == [] and held["held"] == [{"receiver": "hook", "reason": "repeat"}]
    # …a new alert in the group is, at the next interval, not before
    service.receive(settings, [alert("queue-latency", "uploads")], at(400), later)
    assert service.flush(settings, "{alertname=queue-latency}", at(400), later)["due"] is False
    grown = service.flush(settings, "{alertname=queue-latency}", at(630), later)
    assert [s["reason"] for s in grown["sent"]] == ["new-alerts"]
    assert len(hook.accepted[-1].body["alerts"]) == 3
    # …and the unchanged group once more after the repeat interval (4 h)
    repeat = at(630 + 4 * 3600)
    assert (
        service.flush(settings, "{alertname=queue-latency}", repeat, later)["sent"][0]["reason"]
        == "repeat"
    )
    # when every condition clears: one resolved message, then the group is gone
    cleared = [
        Alert(labels=a.labels, annotations=a.annotations, starts_at=T0, ends_at=repeat)
        for a in (
            alert("queue-latency", "downloads"),
            alert("queue-latency", "media"),
            alert("queue-latency", "uploads"),
        )
    ]
    service.receive(settings, cleared, repeat, later)
    resolved = service.flush(
        settings, "{alertname=queue-latency}", repeat + timedelta(minutes=5), later
    )
    assert [s["reason"] for s in resolved["sent"]] == ["resolved"]
    assert hook.accepted[-1].body["status"] == "resolved"
    assert "[RESOLVED]" in hook.accepted[-1].body["title"]
    assert len(hook.accepted) == 4  # first, new alerts, repeat, resolved
    with session_scope(pg_url) as session:
        assert session.scalars(select(AlertGroup)).all() == []


def test_a_broker_down_alert_inhibits_the_per_queue_alerts_it_causes(
    redis_url: str, pg_url: str, tmp_path: Path, fakes: dict[str, FakeReceiver]
):
    hook = fakes["json"]
    settings = make_settings(redis_url, pg_url, tmp_path, hook=(hook, {}))
    later = Later()
    broker_down = alert("broker-down", "redis", "critical", scope="deployment")
    no_workers = alert("queue-no-workers", "media", "critical", scope="queue")
    service.receive(settings, [broker_down, no_workers], at(0), later)
    # when both groups flush while the broker is down
    queue_group = service.flush(settings, "{alertname=queue-no-workers}", at(30), later)
    broker_group = service.flush(settings, "{alertname=broker-down}", at(30), later)
    # then only the cause is told; the queue alert is muted, counted once
    assert queue_group["sent"] == [] and queue_group["inhibited"][0]["by"] == "broker-down"
    assert [s["reason"] for s in broker_group["sent"]] == ["first"]
    assert [r.body["alerts"][0]["labels"]["alertname"] for r in hook.accepted] == ["broker-down"]
    # when the broker is back but the queue still has no worker, the queue alert is told
    back = Alert(labels=broker_down.labels, starts_at=T0, ends_at=at(100))
    service.receive(settings, [back, no_workers], at(100), later)
    service.flush(settings, "{alertname=broker-down}", at(330), later)
    told = service.flush(settings, "{alertname=queue-no-workers}", at(330), later)
    assert [s["reason"] for s in told["sent"]] == ["first"]
    names = [(r.body["status"], r.body["alerts"][0]["labels"]["alertname"]) for r in hook.accepted]
    assert names == [
        ("firing", "broker-down"),
        ("resolved", "broker-down"),
        ("firing", "queue-no-workers"),
    ]


def test_a_429_defers_the_delivery_by_retry_after_and_the_retry_delivers(
    redis_url: str, pg_url: str, tmp_path: Path, fakes: dict[str, FakeReceiver]
):
    hook = fakes["json"]
    hook.fail_next, hook.retry_after = 1, 3
    critical_only = fakes["slack"]
    settings = make_settings(
        redis_url,
        pg_url,
        tmp_path,
        hook=(hook, {}),
        pager=(critical_only, {"SEVERITIES": "critical"}),
    )
    later = Later()
    leaky = Alert(
        labels={"alertname": "task-failures", "instance": "tasks", "severity": "warning"},
        annotations={"summary": "nzbget at http://admin:hunter2@127.0.0.1:6789/jsonrpc fails"},
        starts_at=T0,
    )
    service.receive(settings, [leaky], at(0), later)
    done = service.flush(settings, "{alertname=task-failures}", at(30), later)
    # then the hook's 429 is a scheduled retry after Retry-After, not a wait in the worker
    (sent,) = done["sent"]
    assert sent["receiver"] == "hook" and sent["status"] == "deferred"
    task, kwargs, countdown = later.calls[-2]
    assert task == "notify.deliver" and countdown == pytest.approx(3, abs=0.3)
    assert critical_only.requests == []  # a warning is not the pager's severity
    # when the retry runs (as notify.deliver does), it delivers and the log says so
    receiver = settings.notify.receiver(kwargs["receiver"])
    assert receiver is not None

    def retry() -> Any:
        return notify.attempt(
            settings,
            receiver,
            Message.from_dict(kwargs["message"]),
            kwargs["notification"],
            kwargs["attempt"],
            pace=notify.pace_for(settings),
            later=later,
        )

    early = retry()  # a retry that comes too early (another worker) still waits its turn
    assert early.status == "deferred" and 2 < (early.retry_in or 0) <= 3
    time.sleep(early.retry_in or 0)  # the countdown itself, as the broker would hold it
    outcome = retry()
    notify.record(settings, kwargs["notification"], outcome)
    assert outcome.status == "sent" and len(hook.accepted) == 1
    sent_text = json.dumps(hook.accepted[0].body)
    assert "hunter2" not in sent_text and "admin:***@127.0.0.1" in sent_text
    with session_scope(pg_url) as session:
        rows = session.scalars(select(Notification)).all()
        assert [(r.receiver, r.outcome) for r in rows] == [("hook", "sent")]
        assert SECRET not in json.dumps([r.detail for r in rows] + [done], default=str)


def test_slack_discord_limits_long_texts_cut_and_paced(
    redis_url: str, pg_url: str, tmp_path: Path, fakes: dict[str, FakeReceiver]
):
    slack, discord = fakes["slack"], fakes["discord"]
    discord.burst, discord.window = 2, 1.5
    settings = make_settings(redis_url, pg_url, tmp_path, team=(slack, {}), chat=(discord, {}))
    later = Later()
    long_text = "x" * 10_000
    results = [
        notify.send(settings, Message(title=f"note {n}", text=long_text), later=later)
        for n in range(3)
    ]
    # then no receiver ever answered 429 or refused a body: pacing and cutting did their job
    assert [r.status for r in slack.requests] == [200, 200, 200], slack.requests
    gaps = [b.at - a.at for a, b in zip(slack.requests, slack.requests[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # one message per second
    assert all(r.status in (204,) for r in discord.requests), [r.status for r in discord.requests]
    deferred = [c for c in later.calls if c[0] == "notify.deliver"]
    assert len(discord.requests) + len(deferred) == 3
    assert "cut: " in slack.requests[0].body["blocks"][1]["text"]["text"]
    embed = discord.requests[0].body["embeds"][0]
    assert len(embed["description"]) <= 4096 and "cut: " in embed["description"]
    assert SECRET not in json.dumps(results)
