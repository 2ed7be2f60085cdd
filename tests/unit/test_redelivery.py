"""Which unacknowledged messages the sweeper gives back: only those no live worker holds."""

from __future__ import annotations

import pytest

from hauler.errors import ConfigurationError
from hauler.redelivery import Holder, heartbeat_interval, orphans
from hauler.settings import Settings

NOW = 1_000.0
DEAD_AFTER = 30.0


def test_a_message_no_live_worker_lists_goes_back_once_old_enough():
    # given a live worker that heartbeat just now, listing only its own delivery
    live = Holder("alive@host", NOW - 1, frozenset({"mine"}))
    unacked = [("mine", NOW - 100), ("dead-worker-s", NOW - 100), ("young", NOW - 5)]
    # when the sweeper looks
    found = orphans(unacked, [live], NOW, DEAD_AFTER)
    # then only the old, unlisted one goes back
    assert found == ["dead-worker-s"]


def test_a_delivery_newer_than_a_live_worker_s_last_heartbeat_is_left_alone():
    # given a worker whose last heartbeat is older than a delivery it may have received since
    slow = Holder("slow@host", NOW - 50, frozenset())
    unacked = [("after-its-heartbeat", NOW - 40), ("before-it", NOW - 60)]
    # then the newer delivery waits for the next heartbeat; the older one was not listed
    assert orphans(unacked, [slow], NOW, DEAD_AFTER) == ["before-it"]


def test_with_no_live_worker_only_messages_older_than_dead_after_go_back():
    unacked = [("old", NOW - DEAD_AFTER - 1), ("recent", NOW - DEAD_AFTER + 1)]
    assert orphans(unacked, [], NOW, DEAD_AFTER) == ["old"]


def test_a_heartbeat_reads_back_as_written():
    holder = Holder("w1@host", 12.5, frozenset({"a", "b"}))
    assert Holder.loads(holder.dumps()) == holder
    assert heartbeat_interval(DEAD_AFTER) == 10.0


def test_a_sweep_interval_too_long_for_the_dead_after_time_is_refused():
    with pytest.raises(ConfigurationError, match="HAULER_REDELIVERY_SWEEP_SECONDS"):
        Settings.from_env(
            {"HAULER_REDELIVERY_DEAD_AFTER": "3", "HAULER_REDELIVERY_SWEEP_SECONDS": "2.5"}
        )
