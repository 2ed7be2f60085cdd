"""The autoscaler loop: sample every queue, decide, act, record; one leader at a time.

Besides the samples it keeps what the policy needs from the past: each queue's
per-worker throughput μ (an EWMA of the observed values) and the backend's start-up
time — from ``start()`` to the worker's ready mark (``hauler:worker:<node>:ready``),
an EWMA that starts from the backend's typical value — which sets how far ahead the
arrival rate is forecast.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis

from autoscale import arrivals, decisions
from autoscale.backends.base import WorkerBackend, WorkerHandle
from autoscale.lock import LeaderLock
from autoscale.metrics import AutoscaleMetrics
from autoscale.policy import Decision, Sample, decide, per_worker_throughput
from autoscale.signals import READY_KEY, SignalSource
from hauler.settings import Settings

log = logging.getLogger(__name__)

OVERRIDE_KEY = "hauler:autoscale:override:{queue}"
BusyNodes = Callable[[list[str]], set[str]]
#: Seconds from start() to a consuming worker before any is measured, per backend.
TYPICAL_STARTUP = {"local": 3.0, "docker": 10.0}
#: A start whose ready mark has not come within this many seconds is not waited for.
STARTUP_GIVE_UP = 300.0


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
        keep = max(self.config.window, self.config.history)
        self.windows: dict[str, deque[Sample]] = {q: deque(maxlen=keep) for q in self.config.queues}
        self.last_action: dict[str, float] = dict.fromkeys(self.config.queues, float("-inf"))
        self.throughput: dict[str, float | None] = dict.fromkeys(self.config.queues)
        self.startup = self.config.startup or TYPICAL_STARTUP.get(backend.name, 5.0)
        self.starting: dict[str, float] = {}  # node (expanded) → when start() was asked
        self.metrics.startup.set(self.startup)
        for queue in self.config.queues:
            policy = self.config.policy(queue)
            self.metrics.target_latency.labels(queue).set(policy.target_latency)
            self.metrics.min_workers.labels(queue).set(policy.min_workers)
            self.metrics.max_workers.labels(queue).set(policy.max_workers)

    def tick(self) -> list[Decision]:
        """One round: a sample per queue, a decision per queue, actions where needed."""
        now = self.clock()
        samples = self.signals.sample(list(self.config.queues))
        self._measure_startup()
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
            self.metrics.arrival_rate.labels(queue).set(decision.signals.get("arrival_rate", 0))
            self.metrics.throughput.labels(queue).set(decision.signals.get("throughput", 0))
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

    def _decide(self, queue: str, history: deque[Sample], current: int, now: float) -> Decision:
        window = list(history)[-self.config.window :]
        concurrency = (
            self.settings.queues[queue].concurrency if queue in self.settings.queues else 1
        )
        observed = per_worker_throughput(window, current, concurrency)
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
        # a worker asked for now serves after its start-up; the next chance to ask is a tick
        # away, and the newest rate is an interval's mean (half an interval old)
        horizon = self.startup + 1.5 * self.config.interval
        seen = arrivals.estimate(list(history), horizon)
        return decide(
            policy, window, current, self.last_action[queue], now, self.throughput[queue], seen
        )

    def _apply(self, decision: Decision, active: list[WorkerHandle]) -> None:
        if decision.desired > decision.current:
            started = self.backend.start(decision.queue, decision.desired - decision.current)
            for handle in started:
                self.starting[expand_node(handle.node)] = handle.started_at
            return
        for handle in self.pick_victims(active, decision.current - decision.desired):
            self.backend.stop(handle)

    def _measure_startup(self) -> None:
        """Fold the start-up time of workers that became ready since the last tick in."""
        if self.config.startup:  # set by hand: not measured
            self.starting.clear()
            return
        if not self.starting:
            return
        nodes = list(self.starting)
        try:
            marks = self.client.mget([READY_KEY.format(node=n) for n in nodes])
        except redis.RedisError:
            return
        for node, mark in zip(nodes, marks, strict=True):
            asked = self.starting[node]
            if mark is not None:
                took = float(mark) - asked
                if 0 < took < STARTUP_GIVE_UP:
                    self.startup = 0.7 * self.startup + 0.3 * took
                del self.starting[node]
            elif time.time() - asked > STARTUP_GIVE_UP:
                del self.starting[node]
        self.metrics.startup.set(self.startup)

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
