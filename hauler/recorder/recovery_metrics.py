"""Metrics of download failures, recoveries and client backoff, derived from domain events.

``hauler_download_failures_total{client,category}`` counts ``download.failed``;
``hauler_recoveries_total{strategy,outcome}`` counts ``recovery.recovered`` (recovered),
``recovery.retry-failed`` (failed) and ``recovery.gave-up`` (gave-up);
``hauler_client_backoff_seconds{client}`` is how long a client stays out of selection,
from its last ``client.backoff`` / ``client.recovered`` event, computed at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_OUTCOMES = {
    "recovery.recovered": "recovered",
    "recovery.retry-failed": "failed",
    "recovery.gave-up": "gave-up",
}


class _BackoffCollector(Collector):
    def __init__(self, until: dict[str, float], clock: Callable[[], float]) -> None:
        self.until = until
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "hauler_client_backoff_seconds",
            "Seconds a download client stays out of selection (0 when it is in).",
            labels=["client"],
        )
        now = self.clock()
        for client, until in sorted(self.until.items()):
            family.add_metric([client], max(0.0, until - now))
        yield family


class RecoveryMetrics:
    """The recovery area's metrics on the recorder's registry."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self.failures = Counter(
            "hauler_download_failures",
            "Download failures seen in the clients, by client and category.",
            ["client", "category"],
            registry=registry,
        )
        self.recoveries = Counter(
            "hauler_recoveries",
            "Recovery attempts by strategy and outcome (recovered, failed, gave-up).",
            ["strategy", "outcome"],
            registry=registry,
        )
        self.backoff_until: dict[str, float] = {}
        registry.register(_BackoffCollector(self.backoff_until, clock))

    def observe(self, kind: Any, payload: dict[str, Any]) -> None:
        """Count one domain event of the recovery area (others are ignored)."""
        if kind == "download.failed":
            client = str(payload.get("client") or "unknown")
            self.failures.labels(client, str(payload.get("category") or "unknown")).inc()
        elif kind in _OUTCOMES:
            strategy = str(payload.get("strategy") or "none")
            self.recoveries.labels(strategy, _OUTCOMES[kind]).inc()
        elif kind == "client.backoff":
            until = payload.get("until")
            if isinstance(until, int | float) and not isinstance(until, bool):
                self.backoff_until[str(payload.get("client") or "unknown")] = float(until)
        elif kind == "client.recovered":
            self.backoff_until[str(payload.get("client") or "unknown")] = 0.0
