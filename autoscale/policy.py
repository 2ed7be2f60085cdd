"""The scaling policy: a pure function of samples, the current worker count and the clock.

For each queue::

    need = ceil((depth + in_flight) / (throughput_per_worker x target_latency))

(or ``ceil(backlog / messages_per_worker)`` when that target is set), at least one more
than now while the oldest message waits longer than the target, clamped to
``[min, max]``. Scaling up is fast — up to ``up_step`` workers at once after a short
cooldown — on the need of the whole smoothing window. Scaling down is slow —
``down_step`` at a time, after its cooldown, and only when the need of the last two
samples has fallen below ``current x down_threshold`` (hysteresis) or the queue is idle
(nothing waiting in the last two samples and nothing running in the latest) — so the
count does not flap, yet a drained burst is not held up by the window's memory of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autoscale.settings import QueuePolicy


@dataclass(frozen=True)
class Sample:
    """One reading of a queue."""

    at: float  # UNIX seconds
    depth: int  # waiting messages, all priority levels
    latency: float  # age of the oldest waiting message, seconds
    in_flight: int  # messages delivered to workers and not yet acknowledged
    completed: int  # tasks of this queue finished so far (a counter)


@dataclass(frozen=True)
class Decision:
    """What to do with one queue, and why."""

    queue: str
    current: int
    desired: int
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        if self.desired > self.current:
            return "up"
        return "down" if self.desired < self.current else "hold"


def per_worker_throughput(window: Sequence[Sample], workers: int) -> float | None:
    """Tasks per second one busy worker finished over ``window``; None if unknown."""
    if len(window) < 2 or workers <= 0:
        return None
    elapsed = window[-1].at - window[0].at
    done = window[-1].completed - window[0].completed
    busy = sum(min(s.in_flight, workers) for s in window) / len(window)
    if elapsed <= 0 or done <= 0 or busy <= 0:
        return None
    return done / elapsed / max(busy, 1.0)


def decide(
    policy: QueuePolicy,
    window: Sequence[Sample],
    current: int,
    last_action_at: float,
    now: float,
    throughput: float | None = None,
) -> Decision:
    """How many workers ``policy.queue`` should have now.

    Args:
        policy: the queue's bounds, target and pacing.
        window: recent samples, oldest first (smoothed by their mean).
        current: workers running now (not counting those already stopping).
        last_action_at: when this queue was last scaled (UNIX seconds).
        now: the clock.
        throughput: observed tasks/s per worker, if known.
    """
    depth = sum(s.depth for s in window) / len(window)
    latency = sum(s.latency for s in window) / len(window)
    in_flight = window[-1].in_flight
    backlog = depth + in_flight
    rate = throughput or policy.assumed_throughput
    need = _need(policy, window, current, rate)
    recent = _need(policy, window[-2:], current, rate)  # the way down reads the latest picture
    signals = {
        "depth": round(depth, 1),
        "latency": round(latency, 2),
        "in_flight": in_flight,
        "throughput": round(rate, 3),
        "need": need,
        "recent_need": recent,
    }

    def hold(reason: str) -> Decision:
        return Decision(policy.queue, current, current, reason, signals)

    if current < policy.min_workers or current > policy.max_workers:
        bounded = min(max(current, policy.min_workers), policy.max_workers)
        return Decision(policy.queue, current, bounded, "outside min/max", signals)
    since = now - last_action_at
    if need > current:
        if since < policy.up_cooldown:
            return hold(f"up wanted ({need}) but cooling down")
        desired = min(need, current + policy.up_step)
        why = f"backlog {backlog:.0f} at {rate:.2f}/s/worker, latency {latency:.1f}s"
        return Decision(policy.queue, current, desired, f"up: {why}", signals)
    if recent < current:
        idle = _idle(window)
        if not idle and recent > current * policy.down_threshold:
            return hold("inside the hysteresis band")
        if since < policy.down_cooldown:
            return hold(f"down wanted ({recent}) but cooling down")
        desired = max(recent, current - policy.down_step)
        why = "idle" if idle else f"need {recent} < {policy.down_threshold:g} x {current}"
        return Decision(policy.queue, current, desired, f"down: {why}", signals)
    return hold("on target")


def _need(policy: QueuePolicy, samples: Sequence[Sample], current: int, rate: float) -> int:
    """Workers that would serve ``samples``' mean backlog within the target, in bounds."""
    backlog = sum(s.depth for s in samples) / len(samples) + samples[-1].in_flight
    if policy.messages_per_worker:
        need = math.ceil(backlog / policy.messages_per_worker)
    else:
        need = math.ceil(backlog / (rate * policy.target_latency))
    if samples[-1].latency > policy.target_latency and samples[-1].depth > 0:
        need = max(need, current + 1)
    return min(max(need, policy.min_workers), policy.max_workers)


def _idle(window: Sequence[Sample]) -> bool:
    """Nothing waited in the last two samples and nothing runs now: the work is done."""
    latest = window[-1]
    return latest.in_flight == 0 and all(s.depth == 0 for s in window[-2:])
