"""Client-level backoff follows Sonarr's escalation (ProviderStatusServiceBase.RecordFailure
/ RecordSuccess with DownloadClientStatusService's 5-minute grace and level cap 5)."""

from __future__ import annotations

from hauler.downloads.client_backoff import (
    GRACE,
    PERIODS,
    BackoffState,
    record_failure,
    record_success,
)


def test_periods_are_sonarrs_first_six_steps():
    # EscalationBackOff.Periods = {0, 60, 5*60, 15*60, 30*60, 60*60, 3*60*60, …}; level ≤ 5
    assert PERIODS == (0, 60, 300, 900, 1800, 3600)
    assert GRACE == 300


def test_failures_inside_the_grace_keep_the_client_in():
    state = record_failure(BackoffState(), now=1000.0)
    assert state.level == 1 and state.initial_failure == 1000.0
    assert not state.out(1000.0)
    state = record_failure(state, now=1000.0 + GRACE - 1)
    assert state.level == 1 and not state.out(1000.0 + GRACE - 1)


def test_past_the_grace_each_failure_escalates_one_step_up_to_an_hour():
    t0 = 1000.0
    state = record_failure(BackoffState(), now=t0)
    outs = []
    now = t0 + GRACE
    for _ in range(6):
        state = record_failure(state, now=now)
        outs.append(state.remaining(now))
        now += state.remaining(now)
    assert outs == [300, 900, 1800, 3600, 3600, 3600]
    assert state.level == 5


def test_a_success_steps_back_once_and_puts_the_client_in_again():
    t0 = 1000.0
    state = record_failure(BackoffState(), now=t0)
    state = record_failure(state, now=t0 + GRACE)  # level 2, out 5 min
    state = record_failure(state, now=t0 + GRACE + 300)  # level 3, out 15 min
    assert state.level == 3 and state.out(t0 + GRACE + 301)
    state = record_success(state)
    assert state.level == 2 and not state.out(t0 + GRACE + 301)
    # the next failure goes out at the level it stepped back to, plus one
    now = t0 + GRACE + 400
    state = record_failure(state, now=now)
    assert state.level == 3 and state.remaining(now) == 900
    state = record_success(record_success(record_success(state)))
    assert state == BackoffState(
        level=0, initial_failure=None, most_recent_failure=now, disabled_until=None
    )
    assert record_success(BackoffState()) == BackoffState()


def test_a_new_run_of_failures_gets_a_new_grace():
    state = record_success(record_failure(BackoffState(), now=0.0))
    state = record_failure(state, now=10_000.0)
    assert state.level == 1 and state.initial_failure == 10_000.0 and not state.out(10_000.0)
