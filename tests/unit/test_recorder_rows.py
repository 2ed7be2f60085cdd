"""Celery events become activity rows carrying each task's correlation context."""

from __future__ import annotations

from datetime import UTC, datetime

from hauler.recorder.rows import ContextCache, to_row

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_sent_event_context_fills_the_later_events_of_the_same_task():
    cache = ContextCache()
    sent = {
        "type": "task-sent",
        "uuid": "t1",
        "name": "downloads.fetch",
        "queue": "downloads",
        "correlation_id": "order-1",
        "causation_id": "p0",
        "timestamp": 1.0e9,
    }
    started = {"type": "task-started", "uuid": "t1", "hostname": "w@h", "timestamp": 1.0e9 + 1}
    assert to_row(sent, cache, NOW)["status"] == "SENT"
    row = to_row(started, cache, NOW)
    assert row is not None
    assert (row["task_name"], row["queue"], row["correlation_id"], row["causation_id"]) == (
        "downloads.fetch",
        "downloads",
        "order-1",
        "p0",
    )
    assert row["occurred_at"] == datetime.fromtimestamp(1.0e9 + 1, UTC)


def test_without_a_sent_event_the_root_id_is_the_correlation():
    cache = ContextCache()
    received = {
        "type": "task-received",
        "uuid": "c1",
        "name": "x.y",
        "root_id": "r1",
        "parent_id": "r1",
    }
    row = to_row(received, cache, NOW)
    assert row is not None
    assert (row["correlation_id"], row["causation_id"]) == ("r1", "r1")


def test_a_child_of_a_known_root_takes_the_root_correlation():
    cache = ContextCache()
    to_row({"type": "task-sent", "uuid": "r1", "correlation_id": "order-9"}, cache, NOW)
    row = to_row({"type": "task-received", "uuid": "c1", "root_id": "r1"}, cache, NOW)
    assert row is not None and row["correlation_id"] == "order-9"


def test_domain_events_are_rows_of_their_kind():
    cache = ContextCache()
    event = {
        "type": "hauler-activity",
        "kind": "download.failed",
        "task_id": "t9",
        "task_name": "downloads.fetch",
        "correlation_id": "c",
        "payload": {"why": "404"},
    }
    row = to_row(event, cache, NOW)
    assert row is not None
    assert (row["event_type"], row["status"], row["payload"]) == (
        "download.failed",
        None,
        {"why": "404"},
    )


def test_worker_events_are_not_rows_and_long_fields_are_clipped():
    cache = ContextCache()
    assert to_row({"type": "worker-heartbeat", "hostname": "w"}, cache, NOW) is None
    row = to_row({"type": "task-failed", "uuid": "t", "traceback": "x" * 10_000}, cache, NOW)
    assert row is not None and len(row["payload"]["traceback"]) < 2100


def test_the_cache_forgets_the_least_recently_used():
    cache = ContextCache(size=2)
    for uuid in ("a", "b", "c"):
        cache.learn({"uuid": uuid, "name": uuid})
    assert cache.learn({"uuid": "a"}).name is None
    assert cache.learn({"uuid": "c"}).name == "c"
