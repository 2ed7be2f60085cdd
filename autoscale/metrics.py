"""Prometheus metrics of the autoscaler: workers, targets, signals (λ, μ) and decisions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class AutoscaleMetrics:
    """Everything the autoscaler exports, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.workers = Gauge(
            "hauler_autoscaler_workers",
            "Workers running per queue (not stopping).",
            ["queue"],
            registry=self.registry,
        )
        self.desired = Gauge(
            "hauler_autoscaler_desired_workers",
            "Workers the policy wants.",
            ["queue"],
            registry=self.registry,
        )
        self.depth = Gauge(
            "hauler_autoscaler_queue_depth",
            "Smoothed queue depth.",
            ["queue"],
            registry=self.registry,
        )
        self.latency = Gauge(
            "hauler_autoscaler_queue_latency_seconds",
            "Smoothed queue latency.",
            ["queue"],
            registry=self.registry,
        )
        self.arrival_rate = Gauge(
            "hauler_autoscaler_arrival_rate",
            "Smoothed arrival rate λ per queue, tasks per second.",
            ["queue"],
            registry=self.registry,
        )
        self.throughput = Gauge(
            "hauler_autoscaler_worker_throughput",
            "Tasks per second one busy worker finishes (μ) per queue.",
            ["queue"],
            registry=self.registry,
        )
        self.startup = Gauge(
            "hauler_autoscaler_startup_seconds",
            "Measured seconds from starting a worker to its first chance to consume.",
            registry=self.registry,
        )
        self.decisions = Counter(
            "hauler_autoscaler_decisions",
            "Scaling actions taken.",
            ["queue", "direction"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "hauler_autoscaler_leader",
            "1 while this instance holds the leader lock.",
            registry=self.registry,
        )
        self.target_latency = Gauge(
            "hauler_autoscaler_target_latency_seconds",
            "The latency target of a queue's policy (what the latency alert compares with).",
            ["queue"],
            registry=self.registry,
        )
        self.min_workers = Gauge(
            "hauler_autoscaler_min_workers",
            "The fewest workers a queue's policy keeps.",
            ["queue"],
            registry=self.registry,
        )
        self.max_workers = Gauge(
            "hauler_autoscaler_max_workers",
            "The most workers a queue's policy starts.",
            ["queue"],
            registry=self.registry,
        )

    def serve(self, address: str, port: int) -> None:
        """Serve ``/metrics`` on ``address:port`` (HAULER_LISTEN_ADDRESS, loopback by default)."""
        start_http_server(port, addr=address, registry=self.registry)
