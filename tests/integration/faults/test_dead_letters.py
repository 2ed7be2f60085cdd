"""Dead letters parked in Redis while the database is down: moved in whole, by concurrent drains."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import pytest
import redis
from celery import Celery
from sqlalchemy import select

from hauler import parking
from hauler.correlation import CORRELATION_HEADER, MAX_ID
from hauler.deadletter import Failure
from hauler.store.db import session_scope
from hauler.store.models import DeadLetter
from tests.integration.conftest import ROOT
from tests.integration.http_server import free_port
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

DIRECT = 1000  # letters parked straight from this process
TWICE = 100  # of them, parked a second time (the same task failing again)
THROUGH_WORKER = 20  # letters of tasks failing for good in a real worker

DRAINER = """
import json, sys, time
import redis
from hauler import parking
from hauler.settings import get_settings
settings = get_settings()
client = redis.Redis.from_url(settings.broker_url)
client.rpush("test:drainers:ready", sys.argv[1])
while not client.exists("test:drainers:go"):
    time.sleep(0.01)
print(json.dumps(parking.drain(settings).__dict__))
"""


def _letters(pg_url: str) -> list[DeadLetter]:
    with session_scope(pg_url) as session:
        return list(session.scalars(select(DeadLetter)))


def _failure(task_id: str, attempts: int = 1) -> Failure:
    return Failure(
        task_id=task_id,
        task_name="tests.parked",
        queue="health",
        args=[task_id],
        kwargs={},
        reason="exhausted",
        exception="RetryableError: the peer was down",
        traceback="",
        correlation_id=f"corr-{task_id[:8]}",
        causation_id=None,
        attempts=attempts,
    )


def test_letters_parked_in_an_outage_are_drained_by_two_processes_without_loss(
    start_worker, client_app: Celery, hauler_env: dict[str, str], redis_url: str, pg_url: str
):
    # given a worker whose database is down (its URL points at a closed port)
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    start_worker(["health"], env={**hauler_env, "HAULER_DATABASE_URL": down})
    client = redis.Redis.from_url(redis_url)
    # when tasks fail for good there, one with a foreign app's 76-character correlation id
    long_id = "order-" + "x" * 70
    failed_at: dict[str, float] = {}
    for n in range(THROUGH_WORKER):
        headers = {CORRELATION_HEADER: long_id} if n == 0 else {}
        result = client_app.send_task(
            "health.ping", kwargs={"delay": "soon"}, queue="health", headers=headers
        )
        with pytest.raises(Exception, match="invalid argument 'delay'"):
            result.get(timeout=30)
        failed_at[result.id] = time.time()
    foreign_id = next(iter(failed_at))
    # and many more fail while it is down (some of them twice), plus two letters the
    # database cannot take (a legacy letter with nonsense attempts, and garbage)
    outage = SimpleNamespace(broker_url=redis_url, database_url=down)
    direct_ids = [uuid.uuid4().hex for _ in range(DIRECT)]
    for task_id in direct_ids:
        parking.record_or_park(outage, _failure(task_id))
    for task_id in direct_ids[:TWICE]:
        parking.record_or_park(outage, replace(_failure(task_id, attempts=2)))
    bad = {**_failure("bad-letter").__dict__, "attempts": "many"}
    client.lpush(parking.PARKED_KEY, json.dumps(bad), b"not json at all")
    expected = set(direct_ids) | set(failed_at)
    wait_for(lambda: client.llen(parking.PARKED_KEY) >= DIRECT + TWICE + THROUGH_WORKER + 2)
    time.sleep(1.5)  # so that the time a letter is moved differs from the time it failed

    # when two processes drain at once (released together), with `hauler status` beside
    env = {**hauler_env}
    drainers = [
        subprocess.Popen(
            [sys.executable, "-c", DRAINER, str(n)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    wait_for(lambda: client.llen("test:drainers:ready") == 2, timeout=60)
    started = time.time()
    client.set("test:drainers:go", 1)
    status = subprocess.run(
        [sys.executable, "-m", "hauler.cli.main", "status"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = [d.communicate(timeout=120) for d in drainers]
    seconds = time.time() - started

    # then nothing is lost, nothing stored twice, nobody crashed, the bad letters are set aside
    letters = _letters(pg_url)
    stored = Counter(letter.task_id for letter in letters)
    lost = expected - set(stored)
    duplicated = [task_id for task_id, n in stored.items() if n > 1]
    drained = [json.loads(out) for out, _ in outputs if out.strip()]
    counts = (
        f"expected {len(expected)}, stored {len(stored)}, lost {len(lost)}, duplicated "
        f"{len(duplicated)}, drains {drained}, {seconds:.1f} s; status exit {status.returncode}"
    )
    print(counts)
    assert not lost and not duplicated, counts
    assert set(stored) == expected, counts
    assert all(d.returncode == 0 for d in drainers), [err for _, err in outputs]
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert all(d["moved"] > 0 for d in drained), f"both drains took part: {counts}"
    assert sum(d["quarantined"] for d in drained) <= 2, counts
    held = parking.counts(redis_url)
    assert held == {"parked": 0, "moving": 0, "quarantined": 2, "quarantined_ever": 2}, held
    assert "quarantined (refused by the database): 2" in status.stdout, status.stdout
    # and a letter parked twice keeps its latest failure (2 attempts)
    by_id = {letter.task_id: letter for letter in letters}
    assert {by_id[t].attempts for t in direct_ids[:TWICE]} == {2}
    # and the long correlation id is cut to the column, not a reason to refuse the letter
    assert by_id[foreign_id].correlation_id == long_id[:MAX_ID]
    # and each letter carries the time it failed, not the time it was moved
    offsets = [abs(by_id[t].last_failed_at.timestamp() - at) for t, at in failed_at.items()]
    assert max(offsets) < 1.0, f"failure times off by up to {max(offsets):.2f} s"
    assert all(by_id[t].last_failed_at.timestamp() < started - 1 for t in failed_at)


def test_dlq_list_shows_letters_and_quarantine_lists_what_the_database_refused(
    hauler_cli, redis_url: str, pg_url: str
):
    # given a good letter and a bad one parked while the database was down
    client = redis.Redis.from_url(redis_url)
    good = _failure(uuid.uuid4().hex)
    parking.park(redis_url, good)
    client.lpush(parking.PARKED_KEY, json.dumps({**good.__dict__, "task_id": "b", "attempts": "x"}))
    parking.park(redis_url, _failure(uuid.uuid4().hex))
    # when `hauler dlq list` runs
    out = hauler_cli("dlq", "list")
    # then it lists both good letters, says one was quarantined, and does not crash
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stdout.count("tests.parked") == 2, out.stdout
    assert "1 parked letter(s) refused by the database were quarantined" in out.stdout
    held = hauler_cli("dlq", "quarantine")
    assert held.returncode == 0, held.stderr
    assert "quarantined: 1 now" in held.stdout and "attempts" in held.stdout, held.stdout


def test_a_letter_left_by_a_drain_that_died_is_taken_after_the_lease(redis_url: str, pg_url: str):
    # given a letter claimed by a drain that died (in `moving`, claimed long ago), and
    # one claimed just now by a drain still at work
    client = redis.Redis.from_url(redis_url)
    orphan, busy = _failure(uuid.uuid4().hex), _failure(uuid.uuid4().hex)
    now = time.time()
    client.zadd(parking.MOVING_KEY, {json.dumps(orphan.__dict__): now - parking.LEASE_SECONDS - 1})
    client.zadd(parking.MOVING_KEY, {json.dumps(busy.__dict__): now})
    # when another drain runs
    drained = parking.drain(SimpleNamespace(broker_url=redis_url, database_url=pg_url))
    # then it stores the orphan and leaves the busy drain's letter alone
    stored = {letter.task_id for letter in _letters(pg_url)}
    assert (drained.moved, stored) == (1, {orphan.task_id}), drained
    assert client.zcard(parking.MOVING_KEY) == 1
