"""Every queue is declared everywhere: routing, Celery's queues, the autoscaler, compose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autoscale.settings import AutoscaleSettings
from hauler.queues import QUEUES, queue_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("queue", QUEUES)
def test_each_queue_is_declared_scaled_and_has_a_compose_worker(queue: str):
    import celeryconfig

    assert queue in {q.name for q in celeryconfig.task_queues}
    assert queue in AutoscaleSettings().queues
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(rf'worker-{queue}:.*"hauler", "worker", "{queue}"', compose), queue


def test_archives_extract_routes_to_the_archives_queue():
    assert queue_for("archives.extract") == "archives"
    assert queue_for("archives.ping") == "archives"
