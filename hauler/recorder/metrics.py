"""Prometheus metrics of tasks, queues, workers and the recorder itself.

Names follow the common Celery exporters where they overlap (``celery_task_*_total``,
``celery_task_runtime``, ``celery_queue_length``, ``celery_worker_up``).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hauler.activity import DOMAIN_EVENT
from hauler.health.events import HEAL_EVENT
from hauler.recorder.backup_metrics import BackupMetrics
from hauler.recorder.recovery_metrics import RecoveryMetrics
from hauler.recorder.rows import TaskContext

#: Celery event of one watch pass (no activity row: it comes every few seconds).
WATCH_PASS_EVENT = "hauler-watch-pass"
WATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RUNTIME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
WORKER_TIMEOUT = 30.0  # seconds without a heartbeat before a worker counts as down
WORKER_FORGET = 900.0  # seconds a silent worker stays at 0 (the alert's window) before removal

_COUNTED = {
    "task-sent": "sent",
    "task-received": "received",
    "task-started": "started",
    "task-succeeded": "succeeded",
    "task-failed": "failed",
    "task-retried": "retried",
    "task-rejected": "rejected",
    "task-revoked": "revoked",
}


class Metrics:
    """Every metric the recorder exports, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["name", "hostname", "queue_name"]
        self.task_events = {
            kind: Counter(
                f"celery_task_{kind}",
                f"Tasks {kind}, from Celery events.",
                labels,
                registry=self.registry,
            )
            for kind in _COUNTED.values()
        }
        self.dead_lettered = Counter(
            "hauler_task_dead_lettered",
            "Tasks that failed for good and went to the dead-letter store.",
            ["name", "reason"],
            registry=self.registry,
        )
        self.runtime = Histogram(
            "celery_task_runtime",
            "Task runtime in seconds.",
            ["name", "queue_name"],
            buckets=RUNTIME_BUCKETS,
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "celery_queue_length",
            "Messages waiting in a queue (all priority levels).",
            ["queue_name"],
            registry=self.registry,
        )
        self.queue_latency = Gauge(
            "hauler_queue_latency_seconds",
            "Age of the oldest waiting message of a queue.",
            ["queue_name"],
            registry=self.registry,
        )
        self.queue_workers = Gauge(
            "hauler_queue_workers",
            "Workers consuming a queue.",
            ["queue_name"],
            registry=self.registry,
        )
        self.worker_up = Gauge(
            "celery_worker_up",
            "1 while a worker sends heartbeats, 0 once it fell silent (a clean stop removes it).",
            ["hostname"],
            registry=self.registry,
        )
        self.active_workers = Gauge(
            "celery_active_worker_count", "Workers sending heartbeats.", registry=self.registry
        )
        self.events = Counter(
            "hauler_recorder_events", "Celery events received.", registry=self.registry
        )
        self.dropped = Gauge(
            "hauler_recorder_events_dropped",
            "Activity rows ever dropped (buffer overflow or refused rows).",
            registry=self.registry,
        )
        self.buffered = Gauge(
            "hauler_recorder_buffered_rows", "Rows waiting to be written.", registry=self.registry
        )
        self.written = Gauge(
            "hauler_recorder_rows_written", "Activity rows written.", registry=self.registry
        )
        self.write_errors = Gauge(
            "hauler_recorder_write_errors", "Failed batch writes.", registry=self.registry
        )
        self.transfer_bytes = Counter(
            "hauler_transfer_bytes",
            "Bytes of finished downloads and uploads (from their domain events).",
            ["direction", "via"],
            registry=self.registry,
        )
        self.alerts_sent = Counter(
            "hauler_alerts_sent",
            "Notifications delivered to a receiver (from alert.sent events).",
            ["receiver", "severity"],
            registry=self.registry,
        )
        self.alerts_suppressed = Counter(
            "hauler_alerts_suppressed",
            "Alerts held back: inhibited, or not repeated yet (from alert.suppressed events).",
            ["reason"],
            registry=self.registry,
        )
        self.health_status = Gauge(
            "hauler_health_status",
            "Health check status: 0 pass, 1 warn, 2 fail (per check, and per check/component).",
            ["check"],
            registry=self.registry,
        )
        self.disk_free_ratio = Gauge(
            "hauler_disk_free_ratio",
            "Free/total space of the data, staging and download directories' disks.",
            ["dir"],
            registry=self.registry,
        )
        self.client_up = Gauge(
            "hauler_download_client_up",
            "1 while a configured download client answers the health check.",
            ["client"],
            registry=self.registry,
        )
        self.heal_attempts = Counter(
            "hauler_heal_attempts",
            "Healing steps by component and outcome (started, healed, failed, escalated).",
            ["component", "outcome"],
            registry=self.registry,
        )
        self.backups = BackupMetrics(self.registry)
        self.recovery = RecoveryMetrics(self.registry)
        self._heartbeats: dict[str, float] = {}
        self._silent: dict[str, float] = {}  # hostname → when it was marked down
        self.watch_pass = Histogram(
            "hauler_watch_pass_seconds",
            "Wall time of one watch pass over every download client.",
            buckets=WATCH_BUCKETS,
            registry=self.registry,
        )
        self.transfers = Gauge(
            "hauler_transfers",
            "Downloads handed to external clients, by client and state (from the rows).",
            ["client", "state"],
            registry=self.registry,
        )
        self._transfer_labels: set[tuple[str, str]] = set()

    def observe(self, event: dict[str, Any], context: TaskContext | None) -> None:
        """Count one Celery event."""
        self.events.inc()
        kind = event.get("type", "")
        if kind.startswith("worker-"):
            self._worker_event(kind, event)
            return
        name = (context.name if context else None) or "unknown"
        queue = (context.queue if context else None) or "unknown"
        counted = _COUNTED.get(kind)
        if counted:
            hostname = event.get("hostname") or "unknown"
            self.task_events[counted].labels(name, hostname, queue).inc()
        if kind == "task-succeeded" and isinstance(event.get("runtime"), int | float):
            self.runtime.labels(name, queue).observe(event["runtime"])
        if kind == WATCH_PASS_EVENT and isinstance(event.get("seconds"), int | float):
            self.watch_pass.observe(event["seconds"])
            return
        if kind == "task-dead-lettered":
            self.dead_lettered.labels(name, str(event.get("reason", "unknown"))).inc()
        if kind == "task-failed":
            self.backups.task_failed(name)
        if kind == DOMAIN_EVENT:
            self._transfer(event.get("kind"), event.get("payload") or {})
            self._alert(event.get("kind"), event.get("payload") or {})
            self.backups.observe(event.get("kind"), event.get("payload") or {})
            self.recovery.observe(event.get("kind"), event.get("payload") or {})
            if event.get("kind") == "health.checked":
                self.health(event.get("payload") or {})
        if kind == HEAL_EVENT:
            component, outcome = str(event.get("component")), str(event.get("outcome"))
            self.heal_attempts.labels(component[:100], outcome[:20]).inc()

    def health(self, summary: dict[str, Any]) -> None:
        """Set the health gauges from a health summary (``hauler.health.report.summary``)."""
        for name, gauge in (
            ("checks", self.health_status),
            ("disk_free", self.disk_free_ratio),
            ("clients_up", self.client_up),
        ):
            values = summary.get(name)
            for label, value in values.items() if isinstance(values, dict) else ():
                if isinstance(value, int | float):  # bool too: up is 1, down is 0
                    gauge.labels(str(label)[:200]).set(float(value))

    def _alert(self, kind: Any, payload: dict[str, Any]) -> None:
        """Count ``alert.sent`` and ``alert.suppressed`` events."""
        if kind == "alert.sent":
            receiver = str(payload.get("receiver", "unknown"))[:64]
            self.alerts_sent.labels(receiver, str(payload.get("severity", "unknown"))[:16]).inc()
        elif kind == "alert.suppressed":
            count = payload.get("count", 1)
            count = count if isinstance(count, int) and not isinstance(count, bool) else 1
            reason = str(payload.get("reason", "unknown"))[:32]
            self.alerts_suppressed.labels(reason).inc(max(0, count))

    def _transfer(self, kind: Any, payload: dict[str, Any]) -> None:
        """Count the bytes of a ``download.finished`` or ``upload.finished`` event."""
        size = payload.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return
        if kind == "download.finished":
            self.transfer_bytes.labels("download", str(payload.get("client", "unknown"))).inc(size)
        elif kind == "upload.finished" and not payload.get("skipped"):
            scheme = str(payload.get("destination", "")).split(":", 1)[0] or "unknown"
            self.transfer_bytes.labels("upload", scheme).inc(size)

    def set_transfers(self, counts: dict[tuple[str, str], int]) -> None:
        """Set ``hauler_transfers`` from per (client, state) row counts (absent ones: 0)."""
        for labels in list(self._transfer_labels - set(counts)):
            self.transfers.labels(*labels).set(0)
        for (client, state), count in counts.items():
            self.transfers.labels(client, state).set(count)
        self._transfer_labels = set(counts) | self._transfer_labels

    def _worker_event(self, kind: str, event: dict[str, Any]) -> None:
        hostname = str(event.get("hostname", "unknown"))
        if kind == "worker-offline":  # a clean stop (scale-down, deploy): not a worker down
            self._heartbeats.pop(hostname, None)
            self._silent.pop(hostname, None)
            self._forget(hostname)
        else:
            self._heartbeats[hostname] = time.monotonic()
            self._silent.pop(hostname, None)
            self.worker_up.labels(hostname).set(1)
        self.refresh_workers()

    def refresh_workers(self, now: float | None = None) -> None:
        """Mark workers silent for longer than WORKER_TIMEOUT as down; forget them later."""
        now = time.monotonic() if now is None else now
        for hostname, seen in list(self._heartbeats.items()):
            if now - seen > WORKER_TIMEOUT:
                del self._heartbeats[hostname]
                self._silent[hostname] = now
                self.worker_up.labels(hostname).set(0)
        for hostname, since in list(self._silent.items()):
            if now - since > WORKER_FORGET:
                del self._silent[hostname]
                self._forget(hostname)
        self.active_workers.set(len(self._heartbeats))

    def _forget(self, hostname: str) -> None:
        with contextlib.suppress(KeyError):  # never seen up, or already removed
            self.worker_up.remove(hostname)
