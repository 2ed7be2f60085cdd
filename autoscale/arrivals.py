"""The arrival rate λ of a queue from its samples: smoothed, with a short-horizon forecast.

Each pair of consecutive samples gives one interval's rate, the larger of two readings:

* *published*: the publish counter Hauler's own app keeps (``hauler:queue:<q>:published``,
  written by the batched ``task-sent`` sender), exact for what Hauler publishes;
* *flow*: what entered the queue by conservation — the change of waiting plus in-flight
  messages plus the tasks finished meanwhile — which also sees foreign publishers (plain
  Celery ``send_task``, Flower's API) that do not pass through Hauler's publish hook.

The rates are smoothed with Holt's linear trend (a level and a slope, each an EWMA),
recomputed from the samples every time, so the estimate is a pure function of them.
The forecast ``level + slope x horizon`` is used only when the rise it predicts is more
than ``SIGNIFICANCE`` times the rates' noise — estimated from their second differences,
which a straight ramp leaves at zero and a ragged load does not, and never below the
counting noise of a Poisson stream at that level (√(λ/T) for intervals of T seconds: a
few tasks per interval are noisy however they line up) — and only from
``MIN_TREND_INTERVALS`` intervals on (an autoscaler that just started has seen too
little to call a trend) — so a steady load,
however ragged, keeps its level, a burst is not extrapolated, and a real ramp is met
ahead of its backlog.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoscale.policy import Sample

LEVEL_SMOOTHING = 0.5  # Holt's alpha: weight of the newest interval's rate in the level
TREND_SMOOTHING = 0.4  # Holt's beta: weight of the newest change of level in the slope
PEAK_INTERVALS = 3  # the way down carries the highest level of this many latest intervals
SIGNIFICANCE = 3.0  # a trend counts when the rise it forecasts exceeds this x the noise
MIN_TREND_INTERVALS = 4  # fewer intervals (a just-started autoscaler) give no trend
#: A rate's standard deviation per unit of mean absolute second difference (normal: √(π/2)/√6).
SECOND_DIFFERENCE_TO_SIGMA = 0.51


@dataclass(frozen=True)
class Arrivals:
    """What the samples say about the arrivals of one queue (tasks per second)."""

    rate: float = 0.0  # λ: the smoothed arrival rate now (Holt's level)
    trend: float = 0.0  # its slope, tasks/s per second (Holt's trend)
    noise: float = 0.0  # standard deviation of the interval rates around a straight line, tasks/s
    latest: float = 0.0  # the rate of the newest interval alone
    peak: float = 0.0  # the highest level of the last ``PEAK_INTERVALS`` intervals
    ahead: float = 0.0  # λ forecast ``horizon`` seconds on (the level when the trend is noise)
    horizon: float = 0.0  # seconds the forecast looks ahead
    intervals: int = 0  # sample intervals behind the estimate
    known: bool = True  # False until two samples give a rate: the way down waits for one

    @property
    def highest(self) -> float:
        """The rate the way down must still carry: now, lately or soon, whichever is most."""
        return max(self.rate, self.peak, self.latest, self.ahead)


def interval_rates(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    """``(seconds, rate)`` for each pair of consecutive samples (pairs of no length skipped)."""
    rates = []
    for before, after in itertools.pairwise(samples):
        seconds = after.at - before.at
        if seconds <= 0:
            continue
        published = max(0, after.published - before.published)
        flow = (
            (after.depth - before.depth)
            + (after.in_flight - before.in_flight)
            + max(0, after.completed - before.completed)
        )
        rates.append((seconds, max(published, flow, 0) / seconds))
    return rates


def estimate(
    samples: Sequence[Sample],
    horizon: float,
    alpha: float = LEVEL_SMOOTHING,
    beta: float = TREND_SMOOTHING,
) -> Arrivals:
    """λ of ``samples`` (oldest first) and its forecast ``horizon`` seconds ahead.

    Args:
        samples: readings of one queue, oldest first; fewer than two give λ = 0.
        horizon: seconds to look ahead (the time a new worker needs to start, plus a tick).
        alpha: Holt's level smoothing (0-1).
        beta: Holt's trend smoothing (0-1).
    """
    rates = interval_rates(samples)
    if not rates:
        return Arrivals(horizon=horizon, known=False)
    level, trend = rates[0][1], 0.0
    levels = [level]
    noise: float | None = None  # unknown until three rates give a second difference
    for i, (seconds, rate) in enumerate(rates[1:], start=1):
        predicted = max(0.0, level + trend * seconds)
        previous = level
        level = alpha * rate + (1 - alpha) * predicted
        trend = beta * (level - previous) / seconds + (1 - beta) * trend
        levels.append(level)
        if i >= 2:
            bend = abs(rate - 2 * rates[i - 1][1] + rates[i - 2][1]) * SECOND_DIFFERENCE_TO_SIGMA
            noise = bend if noise is None else alpha * bend + (1 - alpha) * noise
    if noise is not None:  # never below the counting noise of a Poisson stream at this level
        seconds = sum(t for t, _ in rates) / len(rates)
        noise = max(noise, math.sqrt(max(level, 0.0) / seconds))
    rise = trend * horizon
    significant = (
        noise is not None and len(rates) >= MIN_TREND_INTERVALS and abs(rise) > SIGNIFICANCE * noise
    )
    ahead = level + rise if significant else level
    return Arrivals(
        rate=level,
        trend=trend,
        noise=noise or 0.0,
        latest=rates[-1][1],
        peak=max(levels[-PEAK_INTERVALS:]),
        ahead=max(0.0, ahead),
        horizon=horizon,
        intervals=len(rates),
    )
