"""Task names route to declared queues; publish headers carry correlation and causation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hauler.correlation import (
    CAUSATION_HEADER,
    CORRELATION_HEADER,
    PUBLISHED_AT_HEADER,
    stamp_headers,
)
from hauler.errors import ConfigurationError
from hauler.queues import QUEUES, check_queue, queue_for, task_routes


def test_every_design_queue_is_declared():
    assert set(QUEUES) == {
        "downloads",
        "uploads",
        "polling",
        "recovery",
        "media",
        "archives",
        "backups",
        "health",
        "notify",
        "maintenance",
    }


@pytest.mark.parametrize(
    ("name", "queue"),
    [("downloads.fetch", "downloads"), ("reports.daily", "maintenance"), ("media.sprite", "media")],
)
def test_names_route_by_prefix(name, queue):
    assert queue_for(name) == queue
    assert task_routes()[f"{name.split('.')[0]}.*"] == {"queue": queue}


def test_a_mistyped_queue_fails():
    with pytest.raises(ConfigurationError, match="downlods"):
        queue_for("downlods.fetch")
    with pytest.raises(ConfigurationError, match="medai"):
        check_queue("medai")


def test_a_root_task_is_its_own_correlation():
    headers = {"id": "root-1"}
    stamp_headers(headers, parent=None)
    assert headers[CORRELATION_HEADER] == "root-1"
    assert CAUSATION_HEADER not in headers
    assert headers[PUBLISHED_AT_HEADER] > 0


def test_a_child_inherits_correlation_and_names_its_parent():
    parent = SimpleNamespace(id="parent-1", hauler_correlation_id="order-7", headers=None)
    headers = {"id": "child-1"}
    stamp_headers(headers, parent)
    assert headers[CORRELATION_HEADER] == "order-7"
    assert headers[CAUSATION_HEADER] == "parent-1"


def test_a_retry_keeps_its_causation_and_correlation():
    me = SimpleNamespace(id="task-1", hauler_correlation_id="order-7", headers=None)
    headers = {"id": "task-1", CORRELATION_HEADER: "order-7", CAUSATION_HEADER: "parent-1"}
    stamp_headers(headers, me)
    assert headers[CAUSATION_HEADER] == "parent-1"
    assert headers[CORRELATION_HEADER] == "order-7"


def test_a_caller_given_correlation_is_kept():
    headers = {"id": "t", CORRELATION_HEADER: "request-42"}
    stamp_headers(headers, None)
    assert headers[CORRELATION_HEADER] == "request-42"
