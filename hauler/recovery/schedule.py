"""When the next recovery attempt runs: exponential backoff with jitter and a cap."""

from __future__ import annotations

import random
from collections.abc import Callable

from hauler.backoff import backoff_delay
from hauler.recovery.settings import RecoverySettings
from hauler.settings import RetrySettings


def attempt_delay(
    attempt: int, settings: RecoverySettings, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before attempt number ``attempt`` (0 for the first) may run.

    With the defaults the waits are 5, 10 and 20 minutes (each drawn from [d/2, d] with
    jitter), never more than ``backoff_max``.
    """
    policy = RetrySettings(
        max_retries=settings.max_attempts,
        backoff=settings.backoff,
        backoff_max=settings.backoff_max,
        jitter=settings.jitter,
    )
    return backoff_delay(attempt, policy, rand)
