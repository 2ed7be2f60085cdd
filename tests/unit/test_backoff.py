"""The retry schedule grows exponentially, is capped, and jitters within bounds."""

from __future__ import annotations

from hauler.backoff import backoff_delay
from hauler.settings import RetrySettings


def test_without_jitter_delays_double_up_to_the_cap():
    policy = RetrySettings(backoff=2.0, backoff_max=20.0, jitter=False)
    assert [backoff_delay(n, policy) for n in range(6)] == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_jitter_stays_between_half_and_the_full_delay():
    policy = RetrySettings(backoff=1.0, backoff_max=100.0, jitter=True)
    assert backoff_delay(3, policy, rand=lambda: 0.0) == 4.0
    assert backoff_delay(3, policy, rand=lambda: 0.999999) < 8.0
    assert backoff_delay(3, policy, rand=lambda: 0.5) == 6.0


def test_jittered_waits_never_shrink_from_one_attempt_to_the_next():
    policy = RetrySettings(backoff=0.5, backoff_max=1000.0, jitter=True)
    highest = [backoff_delay(n, policy, rand=lambda: 0.999999) for n in range(8)]
    lowest = [backoff_delay(n + 1, policy, rand=lambda: 0.0) for n in range(8)]
    assert all(low >= high for high, low in zip(highest, lowest, strict=True))
