"""Pure parts of alerts and notifications: dedup, inhibition, formats, 429 waits, settings."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from hauler.activity import DOMAIN_EVENT
from hauler.alerts import inhibit, intake
from hauler.alerts.engine import needs_update
from hauler.alerts.model import Alert, fingerprint
from hauler.errors import ConfigurationError
from hauler.notify import formats
from hauler.notify.delivery import retry_after
from hauler.notify.message import Message, cut
from hauler.recorder.metrics import Metrics
from hauler.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REPEAT = timedelta(hours=4)


def told(firing: list[str], resolved: list[str] = (), ago: float = 60) -> SimpleNamespace:
    return SimpleNamespace(
        firing=list(firing), resolved=list(resolved), at=NOW - timedelta(seconds=ago)
    )


@pytest.mark.parametrize(
    ("last", "firing", "resolved", "send_resolved", "expected"),
    [
        (None, {"a"}, set(), True, "first"),
        (None, set(), {"a"}, True, None),  # resolved before anyone was told: silence
        (told(["a"]), {"a", "b"}, set(), True, "new-alerts"),
        (told([]), {"a"}, set(), True, "first"),  # after a resolution, a new episode
        (told(["a"]), set(), {"a"}, True, "resolved"),
        (told(["a"]), set(), {"a"}, False, "resolved"),  # clears the log either way
        (told([]), set(), {"a"}, True, None),
        (told(["a", "b"]), {"a"}, {"b"}, True, "new-resolved"),
        (told(["a", "b"]), {"a"}, {"b"}, False, None),
        (told(["a"]), {"a"}, set(), True, None),  # unchanged: held until the repeat interval
        (told(["a"], ago=4 * 3600 + 1), {"a"}, set(), True, "repeat"),
    ],
)
def test_needs_update_follows_alertmanagers_dedup_stage(
    last, firing, resolved, send_resolved, expected
):
    assert needs_update(last, firing, resolved, REPEAT, NOW, send_resolved) == expected


def test_inhibition_mutes_queue_alerts_while_the_broker_is_down_but_never_itself():
    broker = {"alertname": "broker-down", "severity": "critical", "scope": "deployment"}
    queue = {"alertname": "queue-latency", "severity": "warning", "scope": "queue"}
    disk = {"alertname": "disk-low", "severity": "warning", "scope": "disk", "instance": "/"}
    assert inhibit.inhibited_by(queue, [broker, queue]) == "broker-down"
    assert inhibit.inhibited_by(disk, [broker, disk]) is None
    assert inhibit.inhibited_by(broker, [broker]) is None
    critical_disk = {**disk, "severity": "critical"}
    assert inhibit.inhibited_by(disk, [critical_disk]) == "critical-over-warning"
    other_disk = {**critical_disk, "instance": "/srv"}
    assert inhibit.inhibited_by(disk, [other_disk]) is None


def test_a_fingerprint_is_the_label_set_whatever_its_order():
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    alert = Alert(labels={"alertname": "disk-low", "severity": "loud"})
    assert alert.severity == "warning" and alert.group() == "{alertname=disk-low}"


@pytest.mark.parametrize("limit", [10, 100, 2000, 4096])
def test_cut_keeps_within_the_limit_and_says_how_much_was_left(limit):
    text = "y" * 50_000
    out = cut(text, limit)
    assert len(out) <= limit
    if limit >= 60:
        kept = out.index("\n…")
        assert f"cut: {len(text) - kept} more characters" in out
    assert cut("short", limit) == "short"


def test_every_format_stays_within_its_services_limits():
    fields = tuple((f"name{n}" * 60, "v" * 3000) for n in range(40))
    message = Message(title="T" * 500, text="x" * 20_000, severity="critical", fields=fields)
    slack = formats.slack(message)
    assert len(slack["blocks"][0]["text"]["text"]) <= formats.SLACK_HEADER
    assert all(len(b["text"]["text"]) <= formats.SLACK_SECTION for b in slack["blocks"])
    discord = formats.discord(message)
    (embed,) = discord["embeds"]
    assert len(discord["content"]) <= formats.DISCORD_CONTENT
    assert len(embed["title"]) <= formats.DISCORD_TITLE
    assert 1 <= len(embed["fields"]) <= formats.DISCORD_FIELDS
    assert "more fields left out" in embed["description"]
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= formats.DISCORD_EMBED_TOTAL
    assert discord["allowed_mentions"] == {"parse": []}
    few = formats.discord(Message(title="t", fields=tuple((f"n{i}", "v") for i in range(30))))
    assert len(few["embeds"][0]["fields"]) == formats.DISCORD_FIELDS
    generic = formats.generic(message, "hook")
    assert generic["version"] == "4" and generic["receiver"] == "hook"


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "7"}, None, 7.0),
        ({"retry-after": "Tue, 01 Dec 2026 12:00:30 GMT"}, None, 30.0),
        ({"X-RateLimit-Reset-After": "1.25"}, None, 1.25),
        ({"X-RateLimit-Reset": str(NOW.timestamp() + 12)}, None, 12.0),
        ({}, {"message": "You are being rate limited.", "retry_after": 0.4}, 0.4),
        ({}, None, 1.0),
    ],
)
def test_retry_after_reads_every_way_receivers_say_wait(headers, body, expected):
    assert retry_after(headers, body, NOW.timestamp()) == pytest.approx(expected)


def test_receivers_are_read_from_the_environment_and_bad_ones_named_without_the_url():
    env = {
        "HAULER_NOTIFY_OPS_URL": "https://hooks.slack.com/services/T0/B0/SECRETPART",
        "HAULER_NOTIFY_OPS_KIND": "slack",
        "HAULER_NOTIFY_OPS_SEVERITIES": "warning,critical",
        "HAULER_NOTIFY_OPS_MAINTENANCE": "yes",
        "HAULER_NOTIFY_CHAT_URL": "http://127.0.0.1:9/x",
    }
    settings = Settings.from_env(env)
    ops, chat = settings.notify.receiver("ops"), settings.notify.receiver("CHAT")
    assert ops is not None and chat is not None
    assert ops.kind == "slack" and ops.maintenance and not ops.takes("info")
    assert chat.kind == "json" and chat.takes("info")
    assert "SECRETPART" not in json.dumps(ops.describe()) and "SECRETPART" not in repr(ops)
    bad = {
        "HAULER_NOTIFY_X_URL": "ftp://host/SECRETPART",
        "HAULER_NOTIFY_Y_URL": "https://h/y",
        "HAULER_NOTIFY_Y_KIND": "teams",
        "HAULER_NOTIFY_Z_URL": "https://h/z",
        "HAULER_NOTIFY_Z_SEVERITIES": "loud",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(bad)
    problems = "\n".join(caught.value.problems)
    assert "HAULER_NOTIFY_X_URL" in problems and "SECRETPART" not in problems
    assert "HAULER_NOTIFY_Y_KIND='teams'" in problems
    assert "HAULER_NOTIFY_Z_SEVERITIES" in problems


def test_the_intake_wants_its_token_and_alertmanagers_format():
    settings = Settings.from_env({"HAULER_NOTIFY_INTAKE_TOKEN": "s3cret-token"})
    assert not intake.authorized(settings, {})
    assert not intake.authorized(settings, {"Authorization": "Bearer wrong"})
    assert intake.authorized(settings, {"Authorization": "Bearer s3cret-token"})
    basic = base64.b64encode(b"alertmanager:s3cret-token").decode()
    assert intake.authorized(settings, {"Authorization": f"Basic {basic}"})
    assert not intake.authorized(Settings.from_env({}), {"Authorization": "Bearer "})
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="X"}',
        "alerts": [
            {
                "status": "resolved",
                "labels": {"alertname": "X", "severity": "critical"},
                "startsAt": "2026-12-01T11:00:00Z",
                "endsAt": "2026-12-01T11:30:00.123Z",
            }
        ],
    }
    (alert,) = intake.parse(json.dumps(body).encode(), NOW)
    assert alert.resolved(NOW) and alert.severity == "critical"
    assert alert.group() == 'alertmanager:{}:{alertname="X"}'
    for broken, why in (
        (b"[]", "object with 'alerts'"),
        (json.dumps({**body, "version": "3"}).encode(), "only 4"),
        (json.dumps({"alerts": [{"labels": {}}]}).encode(), "labels is empty"),
        (json.dumps({"alerts": [{"labels": {"a": "b"}, "startsAt": 5}]}).encode(), "RFC 3339"),
    ):
        with pytest.raises(intake.IntakeError, match=why):
            intake.parse(broken, NOW)


def test_the_recorder_counts_alerts_sent_and_suppressed_from_their_events():
    metrics = Metrics()
    events = [
        {"kind": "alert.sent", "payload": {"receiver": "ops", "severity": "critical"}},
        {"kind": "alert.sent", "payload": {"receiver": "ops", "severity": "critical"}},
        {"kind": "alert.suppressed", "payload": {"reason": "inhibited", "count": 3}},
        {"kind": "alert.suppressed", "payload": {"reason": "repeat", "count": "many"}},
    ]
    for event in events:
        metrics.observe({"type": DOMAIN_EVENT, **event}, None)
    sample = metrics.registry.get_sample_value
    assert sample("hauler_alerts_sent_total", {"receiver": "ops", "severity": "critical"}) == 2
    assert sample("hauler_alerts_suppressed_total", {"reason": "inhibited"}) == 3
    assert sample("hauler_alerts_suppressed_total", {"reason": "repeat"}) == 1


def _entry(status: str, component: str | None = None, value: object = None) -> dict:
    entry = {"status": status, "observedValue": value, "output": f"{status} here"}
    return {**entry, "componentId": component} if component else entry


def test_check_rules_read_the_health_documents_own_keys():
    # the keys and shapes hauler/health writes (application/health+json)
    document = {
        "status": "fail",
        "checks": {
            "broker:responseTime": [_entry("pass", value=1.2)],
            "database:responseTime": [_entry("fail")],
            "workers:live": [_entry("pass", "downloads", 1), _entry("fail", "media", 0)],
            "disk:freeRatio": [_entry("warn", "staging", 0.08)],
            "backup:age": [_entry("fail", value=200000)],
            "downloadClient:up": [_entry("fail", "sabnzbd", False)],
            "deadLetters:growth": [_entry("warn", value=4)],
            "recorder:heartbeatAge": [_entry("pass", value=2)],
        },
    }
    from hauler.alerts.rules import RULES

    settings = Settings.from_env({})
    fired = {}
    for rule in RULES:
        if rule.checks:
            for finding in rule.findings(settings, document, NOW):
                alert = rule.alert(finding, NOW)
                fired[f"{alert.name}:{alert.labels['instance']}"] = alert.severity
    assert fired == {
        "database-down:database": "critical",
        "queue-no-workers:media": "critical",
        "disk-low:staging": "warning",
        "backup-missing:backup": "critical",
        "download-client-down:sabnzbd": "warning",
        "dead-letters-growing:deadLetters": "warning",
    }
