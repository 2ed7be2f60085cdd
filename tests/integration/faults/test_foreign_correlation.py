"""A foreign app's correlation id reaches every row of its task and of the task's children."""

from __future__ import annotations

import uuid

import pytest
import redis
from celery import Celery

from hauler import activity
from hauler.correlation import CORRELATION_HEADER, MAX_ID
from hauler.recorder import heartbeat
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def test_a_bare_send_task_correlation_reaches_every_row_of_the_task_and_its_child(
    start_worker, recorder, hauler_cli, client_app: Celery, pg_url: str
):
    # given a worker and the recorder, and an app that knows Hauler only by task name
    start_worker(["health"], concurrency=2)
    key = uuid.uuid4().hex
    short = f"order-45-{key[:8]}"
    long = f"order-{key}" + "x" * 40  # 78 characters: longer than the column
    # when it sends a parent task with its own correlation ids (no Hauler hook runs there)
    sent = {
        correlation: client_app.send_task(
            "tests.parent",
            args=[f"{key}-{n}"],
            queue="health",
            headers={CORRELATION_HEADER: correlation},
        )
        for n, correlation in enumerate((short, long))
    }
    for correlation, result in sent.items():
        child_id = result.get(timeout=30)
        kept = correlation[:MAX_ID]

        # then every row of the parent and of its child carries it, with the queue
        def finished(
            kept: str = kept, parent_id: str = result.id, child_id: str = child_id
        ) -> list:
            rows = activity.timeline(pg_url, kept)
            done = {(r.task_id, r.status) for r in rows}
            wanted = {(parent_id, "SUCCESS"), (child_id, "SUCCESS")}
            return rows if wanted <= done else []

        rows = wait_for(finished, timeout=30)
        parent_rows = [r for r in rows if r.task_id == result.id]
        statuses = {r.status for r in parent_rows}
        assert {"RECEIVED", "STARTED", "SUCCESS"} <= statuses, statuses
        assert {r.queue for r in rows if r.status} == {"health"}, [
            (r.event_type, r.queue) for r in rows
        ]
        child_rows = [r for r in rows if r.task_id == child_id]
        assert {"SENT", "RECEIVED", "STARTED", "SUCCESS"} <= {r.status for r in child_rows}
        assert {r.causation_id for r in child_rows} == {result.id}
        # and `hauler activity --correlation` finds them, given the id as the caller knows it
        out = hauler_cli("activity", "--correlation", correlation)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "tests.parent" in out.stdout and "tests.child" in out.stdout


def test_an_empty_timeline_names_the_real_cause(recorder, hauler_cli, redis_url: str, pg_url: str):
    # given a running recorder (its heartbeat is in Redis) and an id nobody used
    wait_for(lambda: redis.Redis.from_url(redis_url).exists(heartbeat.KEY), timeout=10)
    # when the timeline of that id is asked for
    out = hauler_cli("activity", "--correlation", "nobody")
    # then the hint says the recorder runs and writes, so the id is what is wrong
    assert out.returncode == 1
    assert "runs and writes; no row has that correlation id" in out.stdout, out.stdout


def test_without_a_recorder_the_hint_says_so(hauler_cli, pg_url: str):
    # given no recorder running; when a timeline is asked for
    out = hauler_cli("activity", "--correlation", "nobody")
    # then the hint says no recorder has reported, rather than guessing
    assert out.returncode == 1
    assert "no recorder has reported" in out.stdout, out.stdout


def test_a_ping_sent_to_another_queue_names_the_queue_it_ran_on(start_worker, client_app: Celery):
    # given only a health worker
    start_worker(["health"])
    # when media's ping is sent to the health queue
    answer = client_app.send_task("media.ping", queue="health").get(timeout=30)
    # then it says it ran on health, so it cannot vouch for the media queue
    assert answer["queue"] == "health", answer
    assert client_app.send_task("health.ping", queue="health").get(timeout=30)["queue"] == "health"
