"""Inputs that used to fail as bugs fail at once as InvalidArgument naming the argument."""

from __future__ import annotations

import json
import time

import pytest
from celery import Celery

from hauler import deadletter
from hauler.deadletter import Failure

pytestmark = pytest.mark.integration

MEGABYTE = "a" * 1_000_000
URL = "http://127.0.0.1:9/f"
OUTBOX = "file://{data}/outbox/"

# (task, queue, kwargs, the argument the error must name)
CASES = [
    ("media.thumbnail", "media", {"path": "/tmp/a\x00b.png"}, "path"),
    ("media.thumbnail", "media", {"path": "/" + MEGABYTE}, "path"),
    ("media.thumbnail", "media", {"path": "/tmp/\ud800.png"}, "path"),
    ("uploads.push", "uploads", {"path": "/tmp/a\x00b", "destination": OUTBOX}, "path"),
    ("uploads.push", "uploads", {"path": "/" + MEGABYTE, "destination": OUTBOX}, "path"),
    ("downloads.fetch", "downloads", {"url": URL, "dest": "a\x00b"}, "dest"),
    ("downloads.fetch", "downloads", {"url": URL, "dest": MEGABYTE}, "dest"),
    ("downloads.fetch", "downloads", {"url": URL, "dest": "\ud800"}, "dest"),
    ("maintenance.cleanup", "maintenance", {"activity_days": 10**9}, "activity_days"),
    ("maintenance.cleanup", "maintenance", {"activity_days": 10**30}, "activity_days"),
    ("recovery.retry_dead_letter", "recovery", {"letter": 10**30}, "letter"),
    ("recovery.retry_dead_letter", "recovery", {"letter": "٣"}, "letter"),
]


def test_every_bad_input_is_a_permanent_invalid_argument_naming_it(
    start_worker, client_app: Celery, pg_url: str, hauler_env: dict[str, str]
):
    # given dead letters 1, 2 and 3, and a worker for every queue these tasks use
    for n in (1, 2, 3):
        deadletter.record(
            pg_url,
            Failure(
                f"old-{n}",
                "tests.touch",
                "health",
                [f"k{n}"],
                {},
                "permanent",
                "E",
                "",
                None,
                None,
                1,
            ),
        )
    worker = start_worker(
        ["media", "uploads", "downloads", "maintenance", "recovery"], concurrency=2
    )
    started = time.monotonic()
    # when each bad input is sent the way another app would send it
    data = hauler_env["HAULER_DATA_DIR"]
    sent = [
        (client_app.send_task(task, kwargs=_fill(kwargs, data), queue=queue), task, argument)
        for task, queue, kwargs, argument in CASES
    ]
    # then each fails at once with InvalidArgument naming its argument, and is
    # dead-lettered as permanent after one attempt, with its arguments capped
    wrong = []
    for result, task, argument in sent:
        try:
            result.get(timeout=60, propagate=True)
            wrong.append((task, argument, "succeeded"))
            continue
        except Exception as exc:  # the caller sees Hauler's error, rebuilt by Celery
            shown = str(exc)
            if "InvalidArgument" not in repr(exc) or f"argument '{argument}'" not in shown:
                wrong.append((task, argument, f"{type(exc).__name__}: {str(exc)[:200]}"))
            if len(str(exc)) > 1000:
                wrong.append((task, argument, f"error of {len(str(exc))} chars"))
        letter = _wait_letter(pg_url, result.id)
        if letter is None or (letter.reason, letter.attempts) != ("permanent", 1):
            wrong.append((task, argument, f"letter {letter and (letter.reason, letter.attempts)}"))
        elif len(json.dumps(letter.kwargs)) > 5000:
            wrong.append(
                (task, argument, f"stored kwargs of {len(json.dumps(letter.kwargs))} chars")
            )
    seconds = time.monotonic() - started
    assert not wrong, f"{len(wrong)} of {len(CASES)} wrong in {seconds:.1f} s: {wrong}"
    # and three 1 MB arguments did not make a megabyte of log
    log_bytes = worker.log.stat().st_size
    assert log_bytes < 200_000, f"worker log is {log_bytes} bytes"
    # and the non-ASCII digit did not re-publish dead letter 3
    third = deadletter.get(pg_url, 3)
    assert third is not None and (third.state, third.retried_task_id) == ("dead", None)


def _fill(kwargs: dict[str, object], data: str) -> dict[str, object]:
    return {k: v.format(data=data) if v == OUTBOX else v for k, v in kwargs.items()}


def _wait_letter(pg_url: str, task_id: str, timeout: float = 15.0) -> deadletter.DeadLetter | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        letter = deadletter.get(pg_url, task_id)
        if letter is not None:
            return letter
        time.sleep(0.1)
    return None
