"""End-to-end behaviour of the platform with real Redis, PostgreSQL and worker processes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import uuid

import pytest
import redis
from celery import Celery

from hauler import activity, deadletter
from hauler.queues import QUEUES
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def test_foreign_app_enqueues_by_name_and_gets_the_result(start_worker, client_app: Celery):
    # given a health worker and an app that knows nothing of Hauler but the task name
    start_worker(["health", "celery"])
    # when it sends the task by name, to the queue and without one
    direct = client_app.send_task("health.ping", kwargs={"delay": 0.1}, queue="health")
    unrouted = client_app.send_task("health.ping", args=[0])
    # then both results come back through the shared result backend
    assert direct.get(timeout=30)["pong"] is True
    assert unrouted.get(timeout=30)["queue"] == "health"


def test_retryable_error_backs_off_then_dead_letters_and_dlq_retry_revives_it(
    start_worker, client_app: Celery, hauler_cli, redis_url: str, pg_url: str
):
    # given a task that fails with a retryable error more often than it may retry (3)
    start_worker(["health"])
    key = uuid.uuid4().hex
    result = client_app.send_task("tests.flaky", args=[key, 99], queue="health")
    # when it has run out of retries
    with pytest.raises(Exception, match="failed on purpose"):
        result.get(timeout=60)
    client = redis.Redis.from_url(redis_url)
    times = [float(t) for t in client.lrange(f"flaky:{key}:times", 0, -1)]
    # then it ran 1 + 3 times with growing delays (backoff 0.5 s doubling, equal jitter)
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.2 and gaps[2] >= 0.9
    assert gaps[0] < gaps[2]
    letter = wait_for(lambda: deadletter.get(pg_url, result.id))
    assert letter.reason == "exhausted"
    assert letter.attempts == 4
    assert letter.args == [key, 99]
    # when the cause is fixed and the dead letter is retried by hand
    client.set(f"flaky:{key}:healed", 1)
    out = hauler_cli("dlq", "retry", str(letter.id))
    assert out.returncode == 0, out.stderr
    new_id = out.stdout.strip().rsplit("[", 1)[1].rstrip("]")
    # then it runs again and succeeds, and the dead letter is marked retried
    assert client_app.AsyncResult(new_id).get(timeout=30) == {"key": key, "attempts": 5}
    assert deadletter.get(pg_url, str(letter.id)).state == "retried"


def test_bad_arguments_fail_at_once_without_retry_and_name_the_argument(
    start_worker, client_app: Celery, redis_url: str, pg_url: str
):
    # given a worker
    start_worker(["health"])
    key = uuid.uuid4().hex
    # when tasks are sent an unexpected argument, a missing one and a bad value
    unexpected = client_app.send_task("tests.flaky", kwargs={"key": key, "nope": 1}, queue="health")
    missing = client_app.send_task("tests.flaky", kwargs={"key": key}, queue="health")
    bad_value = client_app.send_task("health.ping", kwargs={"delay": "soon"}, queue="health")
    # then each fails at once with an error naming the argument
    for result, argument in ((unexpected, "nope"), (missing, "fail_times"), (bad_value, "delay")):
        with pytest.raises(Exception, match=f"invalid argument '{argument}'"):
            result.get(timeout=30)
        letter = wait_for(lambda r=result: deadletter.get(pg_url, r.id))
        assert letter.reason == "permanent"
        assert argument in letter.exception
        assert letter.attempts == 1
    # and the task body never ran (no attempt was counted), so nothing was retried
    assert redis.Redis.from_url(redis_url).get(f"flaky:{key}:count") is None


def test_correlation_flows_parent_to_child_and_activity_prints_the_timeline(
    start_worker, recorder, hauler_cli, client_app: Celery, pg_url: str
):
    # given a worker and the recorder writing to PostgreSQL
    start_worker(["health"], concurrency=2)
    key = uuid.uuid4().hex
    # when a parent task is enqueued through the hauler CLI with a correlation id
    correlation = f"order-{key[:8]}"
    out = hauler_cli(
        "enqueue",
        "tests.parent",
        "--args",
        json.dumps([key]),
        "--queue",
        "health",
        "--correlation",
        correlation,
        "--wait",
        "--timeout",
        "60",
    )
    assert out.returncode == 0, out.stderr
    parent_id = out.stdout.splitlines()[0]
    child_id = json.loads("\n".join(out.stdout.splitlines()[1:]))
    assert client_app.AsyncResult(child_id).get(timeout=30) == {"key": key}

    # then parent and child share the correlation id; the child's causation is the parent
    def child_done() -> list:
        rows = activity.timeline(pg_url, correlation)
        return [r for r in rows if r.task_id == child_id and r.status == "SUCCESS"] and rows

    rows = wait_for(child_done, timeout=30)
    child_rows = [r for r in rows if r.task_id == child_id]
    assert {r.causation_id for r in child_rows} == {parent_id}
    assert {r.task_id for r in rows if r.task_id} == {parent_id, child_id}
    kinds = [r.event_type for r in rows]
    for expected in ("task-sent", "task-started", "task-succeeded", "test.parent-ran"):
        assert expected in kinds
    assert "test.child-ran" in kinds
    # and `hauler activity` prints that timeline from PostgreSQL, oldest first
    out = hauler_cli("activity", "--correlation", correlation)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("tests.parent" in line and "SUCCESS" in line for line in lines)
    assert any("tests.child" in line and "test.child-ran" in line for line in lines)
    first_parent = next(i for i, line in enumerate(lines) if "tests.parent" in line)
    first_child = next(i for i, line in enumerate(lines) if "tests.child" in line)
    assert first_parent < first_child


def test_a_pickle_message_is_refused_and_the_worker_goes_on(
    start_worker, redis_url: str, client_app: Celery
):
    # given a worker and a publisher that serializes with pickle
    worker = start_worker(["health"])
    sneaky = Celery("sneaky", broker=redis_url, backend=redis_url)
    sneaky.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])
    key = uuid.uuid4().hex
    # when the pickled message arrives, followed by a JSON one
    sneaky.send_task("tests.touch", args=[f"{key}-pickle"], queue="health")
    after = client_app.send_task("tests.touch", args=[f"{key}-json"], queue="health")
    # then the JSON task runs, the pickled one never does, and nothing is left queued
    assert after.get(timeout=30) == f"{key}-json"
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"touch:{key}-pickle") is None
    assert client.llen("health") == 0
    assert "untrusted content" in worker.tail(200).lower() or "refusing" in worker.tail(200).lower()
    assert worker.process.poll() is None
    sneaky.close()


def test_kill_9_of_a_worker_process_mid_task_reruns_it_to_completion(
    start_worker, client_app: Celery, redis_url: str
):
    # given two workers for the same queue and a long, idempotent (late-ack) task
    first = start_worker(["health"], name="first")
    start_worker(["health"], name="second")
    key = uuid.uuid4().hex
    result = client_app.send_task("tests.slow", args=[key, 3.0], queue="health")
    client = redis.Redis.from_url(redis_url)
    started = wait_for(lambda: client.lrange(f"slow:{key}:started", 0, -1), timeout=30)
    runner = json.loads(started[0])
    # when the process running it is killed with SIGKILL mid-task
    os.kill(runner["pid"], signal.SIGKILL)
    # then the message is redelivered and the task completes; nothing is lost
    outcome = result.get(timeout=60)
    assert outcome["key"] == key
    starts = [json.loads(s) for s in client.lrange(f"slow:{key}:started", 0, -1)]
    finishes = [json.loads(s) for s in client.lrange(f"slow:{key}:finished", 0, -1)]
    assert len(starts) == 2 and len(finishes) == 1
    assert finishes[0]["pid"] != runner["pid"]
    assert first.process.poll() is None  # the worker itself survived and replaced its child


def test_kill_9_of_a_whole_worker_redelivers_after_the_visibility_timeout(
    start_worker, client_app: Celery, redis_url: str, hauler_env: dict[str, str]
):
    # given short limits so the visibility timeout can be short, and two workers
    env = dict(hauler_env)
    for queue in QUEUES:
        env[f"HAULER_QUEUE_{queue.upper()}_SOFT_TIME_LIMIT"] = "5"
        env[f"HAULER_QUEUE_{queue.upper()}_TIME_LIMIT"] = "8"
    env.update(HAULER_VISIBILITY_TIMEOUT="12", HAULER_UNACKED_RESTORE_SECONDS="2")
    doomed = start_worker(["health"], name="doomed", env=env)
    key = uuid.uuid4().hex
    result = client_app.send_task("tests.slow", args=[key, 3.0], queue="health")
    client = redis.Redis.from_url(redis_url)
    wait_for(lambda: client.lrange(f"slow:{key}:started", 0, -1), timeout=30)
    # when the whole worker (main process and pool) is killed with SIGKILL mid-task
    os.killpg(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(timeout=10)
    start_worker(["health"], name="survivor", env=env)
    # then, once the visibility timeout passes, the survivor runs it to completion
    assert result.get(timeout=90)["worker"] == "survivor"
    finishes = [json.loads(s) for s in client.lrange(f"slow:{key}:finished", 0, -1)]
    assert [f["worker"] for f in finishes] == ["survivor"]
