"""A queue served by workers, as a fluid model on a fake clock, driven by the real policy.

Work arrives at ``rate(t)`` tasks/s (plus optional noise), waits first-in first-out,
and is served by the ready workers at ``mu`` tasks/s each. A worker the policy asks for
becomes ready ``startup`` seconds later; a stopped one leaves at once. Every
``interval`` seconds the model takes a :class:`Sample` as the Redis signals would and
asks ``autoscale.policy.decide`` (with ``autoscale.arrivals.estimate``) what to do,
exactly as the loop does — so the policy's unit tests see ramps, bursts and noise
without a server or a sleep.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from autoscale.arrivals import estimate
from autoscale.policy import Decision, Sample, decide, per_worker_throughput
from autoscale.settings import QueuePolicy

STEP = 0.05  # seconds per model step


@dataclass
class Outcome:
    """What one run of the model saw."""

    decisions: list[tuple[float, Decision]] = field(default_factory=list)  # actions only
    counts: list[tuple[float, int]] = field(default_factory=list)  # (t, workers) per sample
    waits: list[tuple[float, float]] = field(default_factory=list)  # (wait, work) served per step
    lost: float = 0.0  # work left waiting at the end

    @property
    def directions(self) -> list[str]:
        return [d.direction for _, d in self.decisions]

    def phases(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        """Runs of same-direction actions between ``since`` and ``until``."""
        runs: list[str] = []
        for at, decision in self.decisions:
            if since <= at < until and (not runs or runs[-1] != decision.direction):
                runs.append(decision.direction)
        return runs

    def percentile(self, q: float) -> float:
        """The wait that a share ``q`` of the work served did not exceed."""
        total = sum(work for _, work in self.waits)
        seen = 0.0
        for wait, work in sorted(self.waits):
            seen += work
            if seen >= q * total:
                return wait
        return 0.0

    def worker_seconds(self) -> float:
        return sum(n * (t1 - t0) for (t0, n), (t1, _) in itertools.pairwise(self.counts))


def run(
    policy: QueuePolicy,
    rate: Callable[[float], float],
    seconds: float,
    *,
    workers: int = 1,
    mu: float = 10.0,
    startup: float = 3.0,
    interval: float = 5.0,
    noise: float = 0.0,
    seed: int = 7,
    overhead: float = 0.0,
) -> Outcome:
    """Run the model for ``seconds`` from ``workers`` ready workers.

    Args:
        policy: the queue's policy, as the autoscaler would read it.
        rate: arrivals in tasks/s at time t.
        seconds: how long to run.
        workers: workers ready at t = 0.
        mu: tasks/s one worker serves.
        startup: seconds from asking for a worker to its serving.
        interval: seconds between samples (and decisions).
        noise: relative spread of each interval's arrivals (0.3 = ±30%, uniform).
        seed: the noise's random seed.
        overhead: share of a worker's time outside its tasks' run time (acks, results):
            the busy-seconds counter sees ``mu x (1 + overhead)`` per worker.
    """
    rng = random.Random(seed)
    ready_at = [0.0] * workers
    arrived_at: list[float] = [0.0]  # cumulative arrivals per step, for FIFO waits
    times: list[float] = [0.0]
    waiting = served = busy = 0.0
    arrived = 0.0
    history: list[Sample] = []
    out = Outcome()
    last_action = float("-inf")
    throughput: float | None = None
    factor = 1.0
    t = 0.0
    steps_per_sample = round(interval / STEP)
    for step in range(round(seconds / STEP)):
        t = step * STEP
        if step % steps_per_sample == 0:
            factor = 1.0 + rng.uniform(-noise, noise)
        incoming = max(0.0, rate(t)) * factor * STEP
        arrived += incoming
        waiting += incoming
        active = sum(1 for r in ready_at if r <= t)
        done = min(waiting, active * mu * STEP)
        if done > 0:
            # FIFO: the work served now arrived when the cumulative arrivals passed `served`
            index = bisect.bisect_left(arrived_at, served + done / 2)
            out.waits.append((t - times[min(index, len(times) - 1)], done))
        waiting -= done
        served += done
        busy += done / (mu * (1 + overhead))
        arrived_at.append(arrived)
        times.append(t)
        if step % steps_per_sample:
            continue
        oldest = bisect.bisect_right(arrived_at, served)
        latency = t - times[min(oldest, len(times) - 1)] if waiting >= 1 else 0.0
        running = round(done / (mu * STEP)) if done else 0  # workers busy in the last step
        history.append(
            Sample(
                at=t,
                depth=max(0, round(waiting) - running),
                latency=latency,
                in_flight=running,
                completed=round(served),
                published=round(arrived),
                busy=busy,
            )
        )
        history = history[-12:]
        window = history[-5:]
        observed = per_worker_throughput(window, len(ready_at))
        if observed is not None:
            throughput = observed if throughput is None else 0.5 * throughput + 0.5 * observed
        seen = estimate(history, startup + 1.5 * interval)
        decision = decide(policy, window, len(ready_at), last_action, t, throughput, seen)
        out.counts.append((t, len(ready_at)))
        if decision.desired > decision.current:
            ready_at += [t + startup] * (decision.desired - decision.current)
        elif decision.desired < decision.current:
            ready_at = sorted(ready_at)[: decision.desired]  # the youngest go first
        if decision.desired != decision.current:
            last_action = t
            out.decisions.append((t, decision))
    out.counts.append((t, len(ready_at)))
    out.lost = waiting
    return out
