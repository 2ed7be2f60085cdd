"""The recorder derives failure, recovery and backoff metrics from domain events."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from hauler.activity import DOMAIN_EVENT
from hauler.recorder.metrics import Metrics
from hauler.recorder.recovery_metrics import RecoveryMetrics


def test_failures_and_recoveries_are_counted_by_their_labels():
    metrics = Metrics()
    events = [
        ("download.failed", {"client": "aria2", "category": "network"}),
        ("download.failed", {"client": "aria2", "category": "network"}),
        ("download.failed", {"client": "sabnzbd", "category": "password"}),
        ("recovery.recovered", {"strategy": "retry"}),
        ("recovery.retry-failed", {"strategy": "retry"}),
        ("recovery.gave-up", {"strategy": "give-up", "category": "password"}),
        ("download.finished", {"client": "aria2", "bytes": 1}),
    ]
    for kind, payload in events:
        metrics.observe({"type": DOMAIN_EVENT, "kind": kind, "payload": payload}, None)
    value = metrics.registry.get_sample_value
    assert value("hauler_download_failures_total", {"client": "aria2", "category": "network"}) == 2
    assert (
        value("hauler_download_failures_total", {"client": "sabnzbd", "category": "password"}) == 1
    )
    assert value("hauler_recoveries_total", {"strategy": "retry", "outcome": "recovered"}) == 1
    assert value("hauler_recoveries_total", {"strategy": "retry", "outcome": "failed"}) == 1
    assert value("hauler_recoveries_total", {"strategy": "give-up", "outcome": "gave-up"}) == 1


def test_backoff_seconds_count_down_at_scrape_time_and_drop_on_recovery():
    registry = CollectorRegistry()
    now = [1000.0]
    metrics = RecoveryMetrics(registry, clock=lambda: now[0])
    metrics.observe("client.backoff", {"client": "nzbget", "until": 1300.0})
    assert registry.get_sample_value("hauler_client_backoff_seconds", {"client": "nzbget"}) == 300
    now[0] = 1200.0
    assert registry.get_sample_value("hauler_client_backoff_seconds", {"client": "nzbget"}) == 100
    metrics.observe("client.recovered", {"client": "nzbget"})
    assert registry.get_sample_value("hauler_client_backoff_seconds", {"client": "nzbget"}) == 0
    metrics.observe("client.backoff", {"client": "x", "until": "soon"})  # ignored, no crash
    assert registry.get_sample_value("hauler_client_backoff_seconds", {"client": "x"}) is None
