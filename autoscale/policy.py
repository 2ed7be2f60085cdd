"""The scaling policy: a pure function of samples, the current worker count and the clock.

For each queue, with λ the arrival rate (autoscale/arrivals.py), μ what one worker
finishes per second and B the backlog (waiting + in flight)::

    need = ceil(λ_ahead / (μ x utilization) + B / (μ x target_latency))

— the workers that keep up with the arrivals forecast over a worker's start-up time,
plus those that drain the backlog within the latency target (or ``ceil(B /
messages_per_worker)`` when that target is set) — at least one more than now while the
oldest message waits longer than the target, clamped to ``[min, max]``. Scaling up is
fast: up to ``up_step`` workers at once after a short cooldown, when both the whole
window and the latest two samples need more (a drained burst the window still
remembers asks for nothing).
Scaling down is slow and measured against both signals: ``down_step`` at a time, after
its cooldown (in one step once nothing waits or runs), to no fewer workers than carry
the highest of λ now, lately and forecast
at ``down_utilization`` (below ``utilization``: the band that keeps a steady load from
flapping), plus the backlog of the last two samples drained within ``down_threshold`` of
the target. A count whose capacity is below the current arrivals is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autoscale.arrivals import Arrivals
from autoscale.settings import QueuePolicy

#: Slack under a whole worker before ``ceil`` asks for one more (rounding noise, not load).
ROUNDING = 0.02


@dataclass(frozen=True)
class Sample:
    """One reading of a queue."""

    at: float  # UNIX seconds
    depth: int  # waiting messages, all priority levels
    latency: float  # age of the oldest waiting message, seconds
    in_flight: int  # messages delivered to workers and not yet acknowledged
    completed: int  # tasks of this queue finished so far (a counter)
    published: int = 0  # messages Hauler's app published to this queue so far (a counter)
    busy: float = 0.0  # seconds workers spent running this queue's tasks so far (a counter)


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


def per_worker_throughput(
    window: Sequence[Sample], workers: int, concurrency: int = 1
) -> float | None:
    """Tasks per second one busy worker (all its ``concurrency`` slots) finishes; None if unknown.

    Two readings: tasks finished per second of running them (the busy-seconds counter
    the workers keep; exact at any load, but blind to the time between tasks — acks,
    results, fetching the next), and, while work waited in every sample (the workers
    were saturated), tasks finished per second per in-flight message, which counts
    that time. The lower of those that are known; without the counter, the second
    reading whenever a slot was busy on average.
    """
    if len(window) < 2 or workers <= 0:
        return None
    done = window[-1].completed - window[0].completed
    if done <= 0:
        return None
    readings = []
    busy_seconds = window[-1].busy - window[0].busy
    if busy_seconds > 0.5:
        readings.append(done / busy_seconds * concurrency)
    elapsed = window[-1].at - window[0].at
    slots = workers * concurrency
    busy = sum(min(s.in_flight, slots) for s in window) / len(window)
    saturated = all(s.depth > 0 for s in window)
    if elapsed > 0 and busy >= 1 and (saturated or not readings):
        readings.append(done / elapsed / busy * concurrency)
    return min(readings) if readings else None


def decide(
    policy: QueuePolicy,
    window: Sequence[Sample],
    current: int,
    last_action_at: float,
    now: float,
    throughput: float | None = None,
    arrivals: Arrivals | None = None,
) -> Decision:
    """How many workers ``policy.queue`` should have now.

    Args:
        policy: the queue's bounds, targets and pacing.
        window: recent samples, oldest first (the backlog is smoothed by their mean).
        current: workers running now (not counting those already stopping).
        last_action_at: when this queue was last scaled (UNIX seconds).
        now: the clock.
        throughput: observed tasks/s per worker (μ), if known.
        arrivals: λ and its forecast (``autoscale.arrivals.estimate``); None = no arrivals.
    """
    arrivals = arrivals or Arrivals()
    depth = sum(s.depth for s in window) / len(window)
    latency = sum(s.latency for s in window) / len(window)
    in_flight = window[-1].in_flight
    backlog = depth + in_flight
    mu = throughput or policy.assumed_throughput
    need = _need(policy, window, current, mu, arrivals.ahead, policy.utilization)
    recent = _need(policy, window[-2:], current, mu, arrivals.ahead, policy.utilization)
    floor = _floor(policy, window[-2:], mu, arrivals.highest)
    signals = {
        "depth": round(depth, 1),
        "latency": round(latency, 2),
        "in_flight": in_flight,
        "throughput": round(mu, 3),
        "arrival_rate": round(arrivals.rate, 3),
        "arrival_trend": round(arrivals.trend, 4),
        "arrival_forecast": round(arrivals.ahead, 3),
        "horizon": round(arrivals.horizon, 1),
        "need": need,
        "recent_need": recent,
        "down_floor": floor,
    }
    facts = (
        f"λ {arrivals.rate:.1f}/s (→ {arrivals.ahead:.1f}/s in {arrivals.horizon:.0f}s), "
        f"μ {mu:.2f}/s/worker, backlog {window[-1].depth + in_flight} (mean {backlog:.0f}), "
        f"latency {window[-1].latency:.1f}s (mean {latency:.1f}s)"
    )

    def verdict(desired: int, why: str) -> Decision:
        return Decision(policy.queue, current, desired, f"{why}; {facts}", signals)

    if current < policy.min_workers or current > policy.max_workers:
        bounded = min(max(current, policy.min_workers), policy.max_workers)
        return verdict(bounded, "outside min/max")
    since = now - last_action_at
    wanted = min(need, recent)  # up when the window and the latest samples both want more
    if wanted > current:
        if since < policy.up_cooldown:
            return verdict(current, f"up wanted ({wanted}) but cooling down")
        return verdict(min(wanted, current + policy.up_step), f"up: need {wanted}")
    if floor < current:
        if not arrivals.known:
            return verdict(current, f"down wanted ({floor}) but the arrival rate is not known yet")
        if since < policy.down_cooldown:
            return verdict(current, f"down wanted ({floor}) but cooling down")
        if _idle(window):  # nothing waits or runs: straight to what the arrivals need
            return verdict(floor, "down: idle")
        return verdict(max(floor, current - policy.down_step), f"down: need {floor}")
    if recent < current:
        return verdict(current, "inside the hysteresis band")
    return verdict(current, "on target")


def _need(
    policy: QueuePolicy,
    samples: Sequence[Sample],
    current: int,
    mu: float,
    arrival_rate: float,
    utilization: float,
) -> int:
    """Workers that keep up with ``arrival_rate`` and serve ``samples``' backlog, in bounds."""
    backlog = sum(s.depth for s in samples) / len(samples) + samples[-1].in_flight
    keep_up = arrival_rate / (mu * utilization)
    if policy.messages_per_worker:
        workers = max(backlog / policy.messages_per_worker, keep_up)
    else:
        workers = keep_up + backlog / (mu * policy.target_latency)
    need = math.ceil(workers - ROUNDING)
    if samples[-1].latency > policy.target_latency and samples[-1].depth > 0:
        need = max(need, current + 1)
    return min(max(need, policy.min_workers), policy.max_workers)


def _floor(policy: QueuePolicy, samples: Sequence[Sample], mu: float, arrival_rate: float) -> int:
    """The fewest workers the way down may leave: the arrivals at ``down_utilization`` plus
    the latest backlog within ``down_threshold`` of the target, and never below λ / μ."""
    if _idle(samples) and arrival_rate == 0:
        return policy.min_workers
    backlog = sum(s.depth for s in samples) / len(samples) + samples[-1].in_flight
    carry = arrival_rate / (mu * policy.down_utilization)
    if policy.messages_per_worker:
        workers = max(backlog / (policy.messages_per_worker * policy.down_threshold), carry)
    else:
        workers = carry + backlog / (mu * policy.target_latency * policy.down_threshold)
    floor = max(math.ceil(workers - ROUNDING), math.ceil(arrival_rate / mu))
    return min(max(floor, policy.min_workers), policy.max_workers)


def _idle(window: Sequence[Sample]) -> bool:
    """Nothing waited in the last two samples and nothing runs now: the work is done."""
    latest = window[-1]
    return latest.in_flight == 0 and all(s.depth == 0 for s in window[-2:])
