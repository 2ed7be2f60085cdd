"""Hauler's publish hooks act for Hauler's app only; its task-sent events survive exit and fork."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from tests.integration.conftest import ROOT
from tests.integration.services import wait_for

HAULER_HEADERS = ("hauler_correlation_id", "hauler_published_at")


class EventTap:
    """Every Celery event published on a Redis database (kombu's fanout = PUBLISH)."""

    def __init__(self, url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe("*celeryev*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.1)
            if message is None:
                continue
            envelope = json.loads(message["data"])
            body = json.loads(base64.b64decode(envelope["body"]))
            self.events.extend(body if isinstance(body, list) else [body])

    def sent(self, task_id: str) -> list[dict[str, Any]]:
        sent = [e for e in list(self.events) if e.get("type") == "task-sent"]
        return [e for e in sent if e.get("uuid") == task_id]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pubsub.close()


@pytest.fixture
def tap(redis_url: str) -> Iterator[EventTap]:
    tap = EventTap(redis_url)
    yield tap
    tap.close()


def run_publisher(env: dict[str, str], code: str) -> dict[str, str]:
    """Run ``code`` in a fresh Python process with Hauler's app imported; its last line is JSON."""
    prelude = "import json, os\nfrom celery import Celery\nfrom workers.app import app as hauler\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout.splitlines()[-1])
    return result


def waiting_headers(url: str, queue: str) -> dict[str, dict[str, Any]]:
    """task id → headers of every message waiting in ``queue``."""
    raw = redis.Redis.from_url(url).lrange(queue, 0, -1)
    messages = [json.loads(m)["headers"] for m in raw]
    return {h["id"]: h for h in messages}


def test_a_foreign_app_in_the_same_process_gets_no_hauler_headers_or_events(
    hauler_env: dict[str, str], redis_url: str, tap: EventTap
):
    # given a process with Hauler's app and a foreign Celery app on the same broker
    # when the foreign app publishes, then Hauler's app publishes, and the process exits
    ids = run_publisher(
        hauler_env,
        """
        foreign = Celery("foreign", broker=os.environ["HAULER_BROKER_URL"])
        theirs = foreign.send_task("foreign.job", args=[1], queue="health")
        ours = hauler.send_task("health.ping", queue="health")
        print(json.dumps({"foreign": theirs.id, "hauler": ours.id}))
        """,
    )

    # then Hauler's message is stamped and announced (task-sent with its ids and queue)
    headers = waiting_headers(redis_url, "health")
    assert set(headers) == {ids["foreign"], ids["hauler"]}
    assert all(headers[ids["hauler"]].get(h) for h in HAULER_HEADERS), headers[ids["hauler"]]
    sent = wait_for(lambda: tap.sent(ids["hauler"]), timeout=10)
    assert sent[0]["correlation_id"] == ids["hauler"]
    assert sent[0]["queue"] == "health"
    # and the foreign message carries none of Hauler's headers and no event was sent for it
    assert not [h for h in HAULER_HEADERS if h in headers[ids["foreign"]]], headers[ids["foreign"]]
    assert tap.sent(ids["foreign"]) == [], "task-sent published for the foreign app's message"


def test_task_sent_events_are_published_from_a_forked_child_too(
    hauler_env: dict[str, str], redis_url: str, tap: EventTap
):
    # given a process whose Hauler app has already published (its sender thread runs)
    # when it forks and the child publishes with a caller's correlation id, then exits
    ids = run_publisher(
        hauler_env,
        """
        first = hauler.send_task("health.ping", queue="health")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            child = hauler.send_task(
                "health.ping", queue="health", headers={"hauler_correlation_id": "order-7"}
            )
            os.write(write, child.id.encode())
            hauler.amqp.sent_events.close()
            os._exit(0)
        os.waitpid(pid, 0)
        print(json.dumps({"parent": first.id, "child": os.read(read, 100).decode()}))
        """,
    )

    # then both messages are announced, the child's with the caller's correlation id
    assert wait_for(lambda: tap.sent(ids["parent"]), timeout=10)
    child = wait_for(lambda: tap.sent(ids["child"]), timeout=10)
    assert child[0]["correlation_id"] == "order-7"
    assert waiting_headers(redis_url, "health")[ids["child"]]["hauler_correlation_id"] == "order-7"


def test_finished_tasks_are_counted_per_queue_within_a_second(
    start_worker, client_app: Celery, redis_url: str
):
    # given a Hauler worker on the health queue
    start_worker(["health"], concurrency=2)
    counter = redis.Redis.from_url(redis_url)
    # when 30 tasks run there
    results = [client_app.send_task("health.ping", queue="health") for _ in range(30)]
    for result in results:
        result.get(timeout=30)
    # then the queue's completion counter (the autoscaler's throughput) says 30 soon after
    key = "hauler:queue:health:completed"
    wait_for(lambda: int(counter.get(key) or 0) >= 30, timeout=3)
    assert int(counter.get(key) or 0) == 30


def test_run_time_is_counted_per_queue_and_a_ready_worker_says_when(
    start_worker, client_app: Celery, redis_url: str
):
    # given a Hauler worker on the health queue
    start_worker(["health"], name="ready1", concurrency=2)
    counter = redis.Redis.from_url(redis_url)
    # then it has marked when it became ready (the autoscaler's start-up time)
    marks = counter.keys("hauler:worker:ready1@*:ready")
    assert len(marks) == 1 and float(counter.get(marks[0]) or 0) > 0
    # when 10 tasks of 0.2 s run there
    results = [
        client_app.send_task("health.ping", kwargs={"delay": 0.2}, queue="health")
        for _ in range(10)
    ]
    for result in results:
        result.get(timeout=30)
    # then the busy-seconds counter (μ = completed / busy) says about 2 s
    key = "hauler:queue:health:busy_seconds"
    wait_for(lambda: float(counter.get(key) or 0) >= 2.0, timeout=3)
    assert 2.0 <= float(counter.get(key) or 0) < 3.0


def test_what_hauler_publishes_is_counted_per_queue_and_foreign_sends_are_not(
    hauler_env: dict[str, str], redis_url: str
):
    # when Hauler's app publishes 25 tasks to media and 5 to notify, and a foreign app 7
    run_publisher(
        hauler_env,
        """
        foreign = Celery("other", broker=os.environ["HAULER_BROKER_URL"])
        for _ in range(25):
            hauler.send_task("media.ping", queue="media")
        for _ in range(5):
            hauler.send_task("notify.ping", queue="notify")
        for _ in range(7):
            foreign.send_task("media.ping", queue="media")
        print(json.dumps({}))
        """,
    )
    # then the publish counters (the autoscaler's λ) say 25 and 5, flushed by exit
    counter = redis.Redis.from_url(redis_url)
    assert int(counter.get("hauler:queue:media:published") or 0) == 25
    assert int(counter.get("hauler:queue:notify:published") or 0) == 5
    assert counter.llen("media") == 32
