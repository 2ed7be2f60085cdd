"""A dead letter stored masked or cut is retried with what the task really got."""

from __future__ import annotations

import uuid

import pytest
import redis
from celery import Celery

from hauler import deadletter, originals
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

SECRET = "hunter2"


def _exhaust(client_app: Celery, key: str, pg_url: str) -> deadletter.DeadLetter:
    result = client_app.send_task("tests.flaky", args=[key, 99], queue="health")
    with pytest.raises(Exception, match="failed on purpose"):
        result.get(timeout=60)
    return wait_for(lambda: deadletter.get(pg_url, result.id), timeout=30)


def test_a_masked_and_cut_letter_is_retried_with_its_original_arguments(
    start_worker, client_app: Celery, hauler_cli, redis_url: str, pg_url: str
):
    # given a task whose first argument holds a password and is longer than a stored value
    start_worker(["health"])
    key = f"https://user:{SECRET}@example.invalid/{uuid.uuid4().hex}/" + "x" * 1200
    letter = _exhaust(client_app, key, pg_url)
    # then the letter shows it masked and cut, and says so
    stored = letter.args[0]
    assert SECRET not in stored and "truncated" in stored, stored[:200]
    assert letter.arguments_altered is True
    # when the cause is fixed and the letter is retried
    client = redis.Redis.from_url(redis_url)
    client.set(f"flaky:{key}:healed", 1)
    out = hauler_cli("dlq", "retry", str(letter.id))
    assert out.returncode == 0, out.stderr
    new_id = out.stdout.strip().rsplit("[", 1)[1].rstrip("]")
    # then the task ran again with its real argument, not the stored copy
    assert client_app.AsyncResult(new_id).get(timeout=30) == {"key": key, "attempts": 5}


def test_an_altered_letter_whose_originals_are_gone_is_refused_for_retry(
    start_worker, client_app: Celery, hauler_cli, redis_url: str, pg_url: str
):
    # given an exhausted task with a password in its argument, its originals expired
    start_worker(["health"])
    letter = _exhaust(client_app, f"https://u:{SECRET}@example.invalid/{uuid.uuid4().hex}", pg_url)
    client = redis.Redis.from_url(redis_url)
    assert client.exists(originals.key(letter.task_id))
    client.delete(originals.key(letter.task_id))
    # when it is retried
    out = hauler_cli("dlq", "retry", str(letter.id))
    # then the retry is refused with a reason, nothing is published, the letter stays dead
    assert out.returncode != 0
    assert "masked or cut" in out.stderr + out.stdout, out.stderr
    assert deadletter.get(pg_url, str(letter.id)).state == "dead"


def test_a_plain_letter_keeps_no_originals(
    start_worker, client_app: Celery, redis_url: str, pg_url: str
):
    # given an exhausted task whose arguments need neither masking nor cutting
    start_worker(["health"])
    letter = _exhaust(client_app, uuid.uuid4().hex, pg_url)
    # then the store keeps them as they were and nothing else is kept
    assert letter.arguments_altered is False
    assert not redis.Redis.from_url(redis_url).exists(originals.key(letter.task_id))
