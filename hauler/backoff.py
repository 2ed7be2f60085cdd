"""The retry schedule: exponential backoff with jitter and a cap, as a pure function."""

from __future__ import annotations

import random
from collections.abc import Callable

from hauler.settings import RetrySettings


def backoff_delay(
    attempt: int, policy: RetrySettings, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    The delay doubles each attempt from ``policy.backoff`` up to ``policy.backoff_max``.
    With jitter the wait is drawn from ``[delay/2, delay]`` ("equal jitter"), so waits
    never shrink from one attempt to the next yet retries from many tasks spread out.

    Args:
        attempt: how many retries have already happened.
        policy: base delay, cap and jitter switch.
        rand: a source of floats in [0, 1); tests pass a fixed one.
    """
    delay = min(policy.backoff_max, policy.backoff * (2 ** max(attempt, 0)))
    if not policy.jitter:
        return delay
    return delay / 2 + rand() * delay / 2
