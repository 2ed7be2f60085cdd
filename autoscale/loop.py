"""The autoscaler loop: sample every queue, decide, act, record; one leader at a time."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis

from autoscale import decisions
from autoscale.backends.base import WorkerBackend, WorkerHandle
from autoscale.lock import LeaderLock
from autoscale.metrics import AutoscaleMetrics
from autoscale.policy import Decision, Sample, decide, per_worker_throughput
from autoscale.signals import SignalSource
from hauler.settings import Settings

log = logging.getLogger(__name__)

OVERRIDE_KEY = "hauler:autoscale:override:{queue}"
BusyNodes = Callable[[list[str]], set[str]]


def busy_nodes_via(broker_url: str) -> BusyNodes:
    """A BusyNodes that asks the workers on ``broker_url`` what they are running."""
    from celery import Celery

    app = Celery("hauler-autoscaler", broker=broker_url)

    def busy(names: list[str]) -> set[str]:
        replies = app.control.inspect(destination=names, timeout=1.0).active() or {}
        return {node for node, tasks in replies.items() if tasks}

    return busy


def expand_node(node: str) -> str:
    """A node name as Celery reports it (``%h`` is the host name)."""
    return node.replace("%h", socket.gethostname())


class Autoscaler:
    """Scales every managed queue of ``settings.autoscale`` through ``backend``."""

    def __init__(
        self,
        settings: Settings,
        backend: WorkerBackend,
        signals: SignalSource,
        client: redis.Redis,
        *,
        busy_nodes: BusyNodes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.config = settings.autoscale
        self.backend = backend
        self.signals = signals
        self.client = client
        self.busy_nodes = busy_nodes or busy_nodes_via(settings.broker_url)
        self.clock = clock
        self.metrics = AutoscaleMetrics()
        self.windows: dict[str, deque[Sample]] = {
            q: deque(maxlen=self.config.window) for q in self.config.queues
        }
        self.last_action: dict[str, float] = dict.fromkeys(self.config.queues, float("-inf"))
        self.throughput: dict[str, float | None] = dict.fromkeys(self.config.queues)
        for queue in self.config.queues:
            policy = self.config.policy(queue)
            self.metrics.target_latency.labels(queue).set(policy.target_latency)
            self.metrics.min_workers.labels(queue).set(policy.min_workers)
            self.metrics.max_workers.labels(queue).set(policy.max_workers)

    def tick(self) -> list[Decision]:
        """One round: a sample per queue, a decision per queue, actions where needed."""
        now = self.clock()
        samples = self.signals.sample(list(self.config.queues))
        made = []
        for queue in self.config.queues:
            window = self.windows[queue]
            window.append(samples[queue])
            active = [w for w in self.backend.workers(queue) if not w.stopping]
            decision = self._decide(queue, window, len(active), now)
            self.metrics.workers.labels(queue).set(len(active))
            self.metrics.desired.labels(queue).set(decision.desired)
            self.metrics.depth.labels(queue).set(decision.signals.get("depth", 0))
            self.metrics.latency.labels(queue).set(decision.signals.get("latency", 0))
            if decision.desired != decision.current:
                self._apply(decision, active)
                self.last_action[queue] = now
                self.metrics.decisions.labels(queue, decision.direction).inc()
                decisions.record(
                    self.settings.database_url,
                    decision,
                    self.backend.name,
                    keep=self.config.decisions_kept,
                )
                log.info(
                    "%s: %d → %d (%s)", queue, decision.current, decision.desired, decision.reason
                )
            made.append(decision)
        return made

    def _decide(self, queue: str, window: deque[Sample], current: int, now: float) -> Decision:
        observed = per_worker_throughput(window, current)
        if observed is not None:
            previous = self.throughput[queue]
            self.throughput[queue] = (
                observed if previous is None else 0.5 * previous + 0.5 * observed
            )
        override = self.client.get(OVERRIDE_KEY.format(queue=queue))
        if override is not None:
            wanted = int(override)
            return Decision(
                queue,
                current,
                wanted,
                f"manual override to {wanted}",
                {"depth": window[-1].depth, "latency": window[-1].latency},
            )
        policy = self.config.policy(queue)
        return decide(
            policy, list(window), current, self.last_action[queue], now, self.throughput[queue]
        )

    def _apply(self, decision: Decision, active: list[WorkerHandle]) -> None:
        if decision.desired > decision.current:
            self.backend.start(decision.queue, decision.desired - decision.current)
            return
        for handle in self.pick_victims(active, decision.current - decision.desired):
            self.backend.stop(handle)

    def pick_victims(self, active: list[WorkerHandle], count: int) -> list[WorkerHandle]:
        """Idle workers first, then the youngest: scale-down never interrupts work it can spare."""
        try:
            busy = self.busy_nodes([expand_node(w.node) for w in active])
        except Exception:  # inspection is best effort; warm shutdown keeps the task safe
            busy = set()
        ranked = sorted(active, key=lambda w: (expand_node(w.node) in busy, -w.started_at))
        return ranked[:count]

    def run(self, stop: threading.Event, *, on_leader: Callable[[], Any] | None = None) -> None:
        """Lead (or wait to lead) until ``stop`` is set."""
        lock = LeaderLock(self.client, self.config.lease)
        leading = False
        try:
            while not stop.is_set():
                if not leading:
                    leading = lock.acquire()
                    if not leading:
                        stop.wait(1.0)
                        continue
                    self._adopt()
                    if on_leader:
                        on_leader()
                self.metrics.leader.set(1)
                try:
                    self.tick()
                except (redis.RedisError, OSError) as exc:
                    log.warning("autoscaler tick failed: %s", exc)
                stop.wait(self.config.interval)
                if not lock.renew():
                    log.warning("leader lock lost; standing by")
                    leading = False
                    self.metrics.leader.set(0)
        finally:
            if leading:
                lock.release()
            self.metrics.leader.set(0)

    def _adopt(self) -> None:
        found = {q: len(self.backend.workers(q)) for q in self.config.queues}
        log.info("leading; adopted workers: %s", found)


def describe(handles: Iterable[WorkerHandle]) -> str:
    return ", ".join(f"{h.node}({h.id})" for h in handles)
