"""The recorder counts transfer bytes from the domain events of downloads and uploads."""

from __future__ import annotations

import time

from hauler.activity import DOMAIN_EVENT
from hauler.recorder.metrics import WORKER_FORGET, WORKER_TIMEOUT, Metrics


def _bytes(metrics: Metrics, direction: str, via: str) -> float:
    labels = {"direction": direction, "via": via}
    return metrics.registry.get_sample_value("hauler_transfer_bytes_total", labels) or 0.0


def test_finished_transfers_add_their_bytes_by_direction_and_client_or_scheme() -> None:
    metrics = Metrics()
    events = [
        {"kind": "download.finished", "payload": {"bytes": 100, "client": "http"}},
        {"kind": "download.finished", "payload": {"bytes": 50, "client": "http"}},
        {"kind": "upload.finished", "payload": {"bytes": 70, "destination": "s3://b/k"}},
        {
            "kind": "upload.finished",
            "payload": {"bytes": 70, "destination": "s3://b/k", "skipped": True},
        },
        {"kind": "download.client-chosen", "payload": {"client": "aria2"}},
        {"kind": "download.finished", "payload": {"bytes": "lots", "client": "aria2"}},
    ]
    for event in events:
        metrics.observe({"type": DOMAIN_EVENT, **event}, None)
    assert _bytes(metrics, "download", "http") == 150
    assert _bytes(metrics, "upload", "s3") == 70
    assert _bytes(metrics, "download", "aria2") == 0


def _up(metrics: Metrics, hostname: str) -> float | None:
    return metrics.registry.get_sample_value("celery_worker_up", {"hostname": hostname})


def test_a_silent_worker_is_down_for_a_while_and_a_clean_stop_is_not_down() -> None:
    # given two workers sending heartbeats
    metrics = Metrics()
    for hostname in ("media@a", "media@b"):
        metrics.observe({"type": "worker-heartbeat", "hostname": hostname}, None)
    assert (_up(metrics, "media@a"), _up(metrics, "media@b")) == (1.0, 1.0)

    # when media@b stops cleanly and media@a falls silent past the timeout
    metrics.observe({"type": "worker-offline", "hostname": "media@b"}, None)
    now = time.monotonic()
    metrics.refresh_workers(now + WORKER_TIMEOUT + 1)

    # then media@a reads 0 (the worker-down alert) and media@b has no series at all
    assert _up(metrics, "media@a") == 0.0
    assert _up(metrics, "media@b") is None
    # and media@a is forgotten once the alert's window has passed
    metrics.refresh_workers(now + WORKER_TIMEOUT + WORKER_FORGET + 2)
    assert _up(metrics, "media@a") is None


def test_watch_passes_fill_the_pass_histogram_and_rows_the_transfer_gauge() -> None:
    metrics = Metrics()
    for seconds in (0.004, 0.03, 0.03):
        metrics.observe({"type": "hauler-watch-pass", "seconds": seconds, "calls": 2}, None)
    metrics.observe({"type": "hauler-watch-pass", "seconds": "soon"}, None)
    sample = metrics.registry.get_sample_value
    assert sample("hauler_watch_pass_seconds_count") == 3
    assert sample("hauler_watch_pass_seconds_bucket", {"le": "0.005"}) == 1
    metrics.set_transfers({("aria2", "downloading"): 3, ("nzbget", "done"): 1})
    metrics.set_transfers({("aria2", "done"): 3, ("nzbget", "done"): 1})
    labels = {"client": "aria2", "state": "downloading"}
    assert sample("hauler_transfers", labels) == 0  # gone from the rows: back to zero
    assert sample("hauler_transfers", {"client": "aria2", "state": "done"}) == 3
