"""A password in a download URL reaches no sink: exception, dead letter, activity, logs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import select

from hauler import deadletter
from hauler.store.db import session_scope
from hauler.store.models import Activity
from tests.integration.http_server import free_port
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

SECRET = "hunter2"


def _rows(pg_url: str, task_id: str) -> list[dict[str, object]]:
    with session_scope(pg_url) as session:
        rows = session.scalars(select(Activity).where(Activity.task_id == task_id))
        return [{c.name: getattr(row, c.name) for c in Activity.__table__.columns} for row in rows]


def test_a_password_in_a_download_url_is_in_no_sink(
    start_worker,
    recorder,
    client_app: Celery,
    hauler_env: dict[str, str],
    pg_url: str,
    tmp_path: Path,
):
    # given a downloads worker that may reach loopback, retrying once, and the recorder
    env = {
        **hauler_env,
        "HAULER_DOWNLOADS_ALLOW_NETWORKS": "127.0.0.1/32",
        "HAULER_RETRY_MAX": "1",
    }
    worker = start_worker(["downloads"], env=env)
    url = f"http://user:{SECRET}@127.0.0.1:{free_port()}/f"
    # when a download of a URL with a password fails (nothing listens there), for good
    result = client_app.send_task("downloads.fetch", args=[url], queue="downloads")
    with pytest.raises(Exception) as caught:
        result.get(timeout=60)
    letter = wait_for(lambda: deadletter.get(pg_url, result.id), timeout=30)
    rows = wait_for(
        lambda: (
            [r for r in _rows(pg_url, result.id) if r["status"] == "DEAD_LETTERED"]
            and _rows(pg_url, result.id)
        ),
        timeout=30,
    )
    time.sleep(0.5)  # the worker's last log lines
    # then the password is nowhere: not in the caller's exception, the dead letter, the
    # activity rows or the worker's log, while the URL itself (masked) is still there
    sinks = {
        "exception": f"{caught.value!r} {caught.value} {result.traceback}",
        "dead letter": json.dumps(
            [letter.args, letter.kwargs, letter.exception, letter.traceback], default=str
        ),
        "activity rows": json.dumps(rows, default=str),
        "worker log": worker.log.read_text(errors="replace"),
    }
    leaks = {name: text.count(SECRET) for name, text in sinks.items() if SECRET in text}
    assert not leaks, f"'{SECRET}' found in {leaks} ({len(rows)} activity rows)"
    for name in ("dead letter", "activity rows", "worker log"):
        assert "user:***@127.0.0.1" in sinks[name], f"the masked URL is missing from the {name}"
    assert letter.reason == "exhausted" and letter.attempts == 2
