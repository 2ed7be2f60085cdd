"""``hauler notify test``, ``hauler errors`` and start-up validation of the schedule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hauler.store.db import session_scope
from hauler.store.models import Activity
from tests.support.receivers import FakeReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def team(hauler_env: dict[str, str]) -> Iterator[FakeReceiver]:
    fake = FakeReceiver("slack").start()
    hauler_env.update(HAULER_NOTIFY_TEAM_URL=fake.url, HAULER_NOTIFY_TEAM_KIND="slack")
    yield fake
    fake.stop()


def test_notify_test_sends_to_the_named_receiver_and_names_an_unknown_one(team, hauler_cli):
    done = hauler_cli("notify", "test", "TEAM")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("team: sent")
    assert "Hauler test message" in team.accepted[0].body["text"]
    unknown = hauler_cli("notify", "test", "pager")
    assert unknown.returncode == 1
    assert "no receiver 'pager' (known: team)" in unknown.stderr
    assert "xoxTOKEN123" not in done.stdout + unknown.stderr


def test_errors_reads_the_activity_log_and_a_bad_schedule_stops_start_up(
    hauler_cli, hauler_env, pg_url: str
):
    now = datetime.now(UTC)
    with session_scope(pg_url) as session:
        for n, (status, payload) in enumerate(
            [
                ("FAILURE", {"exception": "RetryableError('busy')"}),
                ("FAILURE", {"exception": "RetryableError('busy')"}),
                ("DEAD_LETTERED", {"reason": "permanent"}),
            ]
        ):
            session.add(
                Activity(
                    occurred_at=now - timedelta(minutes=n),
                    recorded_at=now,
                    event_type="task-failed",
                    task_id=uuid.uuid4().hex,
                    task_name="uploads.push",
                    queue="uploads",
                    status=status,
                    payload=payload,
                )
            )
    errors = json.loads(hauler_cli("errors", "--hours", "2", "--json").stdout)
    assert errors["total"] == 3
    assert errors["by_category"] == {"RetryableError": 2, "dead-lettered:permanent": 1}
    assert errors["by_task"] == {"uploads.push": 3}
    hauler_env["HAULER_SCHEDULE_CLEANUP"] = "at two"
    bad = hauler_cli("schedule")
    assert bad.returncode == 2 and "HAULER_SCHEDULE_CLEANUP='at two'" in bad.stderr
