"""One recovery per download at a time: a second call while the lock is held is deferred
(scheduled again), not run alongside; a report of the same failure again is ignored."""

from __future__ import annotations

import pytest
import redis

from hauler.recovery import lock, records
from hauler.recovery.recover import DEFER_SECONDS, Report, recover
from hauler.settings import Settings

pytestmark = pytest.mark.integration


def test_a_second_recovery_of_the_same_job_waits_for_the_first(hauler_env, redis_url):
    settings = Settings.from_env({**hauler_env, "HAULER_RECOVERY_FOREIGN": "report"})
    store = redis.Redis.from_url(redis_url)
    report = Report("nzbget", "17", status="FAILURE/HEALTH")
    later: list[tuple[dict, float]] = []
    # given another recovery of nzbget job 17 holds its lock
    with lock.held(store, "job:nzbget:17", 30) as ours:
        assert ours
        # when a second one starts
        answer = recover(settings, report, lambda kw, s, _c: later.append((kw, s)), clients=[])
    # then it does nothing but schedule itself again
    assert answer["outcome"] == "deferred"
    assert later == [(report.kwargs(), DEFER_SECONDS)]
    assert records.recent(settings.database_url, include_closed=True) == []
    # and run again once the lock is free, it records the failure (reported: foreign)
    again = recover(settings, Report(**later[0][0]), lambda *a: None, clients=[])
    assert again == {"outcome": "reported", "category": "incomplete"}
    (failure,) = records.recent(settings.database_url, include_closed=True)
    assert (failure.client, failure.job_id, failure.state) == ("nzbget", "17", "reported")
    assert failure.rule == "nzbget v21.0 daemon/queue/DownloadInfo.cpp:535"
