"""``reports.daily`` counts outcomes per task, read from the activity the recorder wrote."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from hauler import activity
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration


def test_the_daily_report_counts_each_task_once_by_its_outcome(
    start_worker, recorder, client_app: Celery, pg_url: str
):
    # given a worker, the recorder, and tasks with every kind of end
    start_worker(["health", "maintenance"], concurrency=2)
    key = uuid.uuid4().hex
    ok = [
        client_app.send_task("tests.touch", args=[f"{key}-{n}"], queue="health") for n in range(3)
    ]
    healed = client_app.send_task("tests.flaky", args=[f"{key}-h", 1], queue="health")
    doomed = client_app.send_task("tests.flaky", args=[f"{key}-d", 99], queue="health")
    bad = client_app.send_task("health.ping", kwargs={"delay": "soon"}, queue="health")
    for result in (*ok, healed):
        result.get(timeout=60)
    for result in (doomed, bad):
        with pytest.raises(Exception, match=r"failed on purpose|invalid argument"):
            result.get(timeout=60)
    tasks = [*ok, healed, doomed, bad]

    def all_recorded() -> bool:
        ends = {"SUCCESS", "DEAD_LETTERED"}
        return all(any(r.status in ends for r in activity.timeline(pg_url, t.id)) for t in tasks)

    wait_for(all_recorded, timeout=30)
    # when the report is asked for through its task
    report = client_app.send_task("reports.daily", queue="maintenance").get(timeout=30)
    # then each task counts once, by outcome, not once per lifecycle event
    outcomes = report["outcomes"]
    assert outcomes["succeeded"] == 4, outcomes  # 3 touches + the flaky one that healed
    assert outcomes["dead_lettered"] == {"exhausted": 1, "permanent": 1}, outcomes
    assert outcomes["with_retries"] == 2, outcomes  # the healed one and the doomed one
    assert report["by_task"]["tests.touch"]["succeeded"] == 3, report["by_task"]
    assert report["by_task"]["tests.flaky"]["dead_lettered"] == {"exhausted": 1}
