"""Sizing for arrivals: λ from the samples, its forecast, and the policy on ramps, sawtooths,
steady and noisy loads (a fluid queue model on a fake clock, the real policy deciding)."""

from __future__ import annotations

import pytest

from autoscale.arrivals import estimate, interval_rates
from autoscale.policy import Sample, decide, per_worker_throughput
from autoscale.settings import QueuePolicy
from hauler.errors import ConfigurationError
from hauler.settings import Settings
from tests.unit.queue_model import run

POLICY = QueuePolicy(queue="health", min_workers=1, max_workers=6, target_latency=10.0)


def samples(rates: list[float], interval: float = 5.0, foreign: bool = False) -> list[Sample]:
    """Samples of a queue that keeps up exactly with ``rates`` (one per interval)."""
    out = [Sample(at=0.0, depth=0, latency=0.0, in_flight=0, completed=0)]
    total = 0.0
    for i, rate in enumerate(rates, start=1):
        total += rate * interval
        out.append(
            Sample(
                at=i * interval,
                depth=0,
                latency=0.0,
                in_flight=0,
                completed=round(total),
                published=0 if foreign else round(total),
            )
        )
    return out


def ramp_then_hold(start: float, rise: float, hold: float, peak: float):
    def rate(t: float) -> float:
        if t < start or t >= start + rise + hold:
            return 0.0
        return peak * min(1.0, (t - start) / rise)

    return rate


# --- λ from the samples


def test_the_publish_counter_gives_the_rate():
    rates = interval_rates(samples([10.0, 20.0]))
    assert rates == [(5.0, 10.0), (5.0, 20.0)]


def test_foreign_publishers_are_seen_by_the_flow_balance():
    # given messages published by a plain Celery app: no publish counter, but the queue
    # grew by 30 and 20 were finished in 5 s
    before = Sample(at=0.0, depth=10, latency=0.0, in_flight=2, completed=100)
    after = Sample(at=5.0, depth=38, latency=1.0, in_flight=4, completed=120)
    # then λ = (28 + 2 + 20) / 5
    assert interval_rates([before, after]) == [(5.0, 10.0)]


def test_a_steady_rate_has_no_trend_and_its_forecast_is_its_level():
    seen = estimate(samples([20.0] * 11), horizon=8.0)
    assert seen.rate == pytest.approx(20.0)
    assert seen.trend == pytest.approx(0.0)
    assert seen.ahead == pytest.approx(20.0)


def test_a_ramp_is_forecast_ahead():
    # given arrivals rising by 4/s every 5 s
    seen = estimate(samples([4.0 * i for i in range(1, 11)]), horizon=8.0)
    # then the forecast 8 s on is above the newest rate (40/s) by about 8 x 0.8/s²
    assert seen.trend == pytest.approx(0.8, rel=0.2)
    assert seen.ahead > seen.latest
    assert seen.ahead == pytest.approx(40.0 + 0.8 * 8, rel=0.15)


def test_noise_is_not_extrapolated():
    # given a steady 20/s that is ±30% ragged from interval to interval
    ragged = [20.0 * (1 + d) for d in (0.3, -0.3, 0.2, -0.25, 0.3, 0.1, -0.3, 0.25, -0.1, 0.3)]
    seen = estimate(samples(ragged), horizon=8.0)
    # then no trend is forecast: the forecast is the smoothed level
    assert seen.ahead == pytest.approx(seen.rate)
    assert 14.0 < seen.rate < 26.0


def test_a_just_started_autoscaler_forecasts_no_trend():
    # given three intervals of a quiet queue that happen to rise (0.2, 0.6, 1.2 per second)
    seen = estimate(samples([0.2, 0.6, 1.2]), horizon=12.0)
    # then the forecast is the level: three intervals are too few to call a trend
    assert seen.trend > 0
    assert seen.ahead == pytest.approx(seen.rate)


def test_a_few_tasks_per_interval_are_counting_noise_not_a_trend():
    # given a quiet queue whose counts per 5 s interval climb by one (1, 2, 3, 4, 5 tasks)
    seen = estimate(samples([0.2, 0.4, 0.6, 0.8, 1.0]), horizon=12.0)
    # then the rise it would forecast (~0.5/s) is within √(λ/T) counting noise: not used
    assert seen.noise >= (seen.rate / 5.0) ** 0.5
    assert seen.ahead == pytest.approx(seen.rate)
    # while the same shape at a hundred times the count is a trend
    busy = estimate(samples([20.0, 40.0, 60.0, 80.0, 100.0]), horizon=12.0)
    assert busy.ahead > busy.latest


def test_no_rate_is_known_from_one_sample():
    seen = estimate(samples([])[:1], horizon=8.0)
    assert not seen.known and seen.rate == 0.0


def test_throughput_from_busy_seconds_is_exact_at_low_load():
    # given one worker busy 30% of the time with 100 ms tasks (3 per second)
    window = [
        Sample(at=5.0 * i, depth=0, latency=0, in_flight=0, completed=15 * i, busy=1.5 * i)
        for i in range(5)
    ]
    # then μ is 10/s, not the 3/s it finished
    assert per_worker_throughput(window, workers=2) == pytest.approx(10.0)
    assert per_worker_throughput(window, workers=2, concurrency=4) == pytest.approx(40.0)


# --- the policy's decisions


def test_never_scales_down_below_the_capacity_the_arrivals_need():
    # given 5 workers with an empty queue, but 30/s arriving at 10/s per worker
    window = samples([30.0] * 6)
    seen = estimate(window, horizon=8.0)
    decision = decide(POLICY, window[-5:], 5, 0.0, 100.0, throughput=10.0, arrivals=seen)
    # then it keeps 5 (30/s at 0.6 busy needs 5), never 3 or 4
    assert decision.desired == 5, decision.reason
    assert decision.signals["down_floor"] >= 3


def test_no_scale_down_while_arrivals_rise_mid_ramp():
    # the case: 5 workers, 79 waiting, oldest 8.5 s, arrivals rising 2/s every 5 s
    window = samples([2.0 * i for i in range(1, 11)])
    window[-1] = Sample(
        at=window[-1].at,
        depth=79,
        latency=8.5,
        in_flight=5,
        completed=window[-1].completed,
        published=window[-1].published + 84,
    )
    seen = estimate(window, horizon=8.0)
    decision = decide(POLICY, window[-5:], 5, 0.0, 100.0, throughput=10.0, arrivals=seen)
    assert decision.direction != "down", decision.reason


def test_every_reason_shows_arrivals_throughput_backlog_and_latency():
    window = samples([12.0] * 6)
    seen = estimate(window, horizon=8.0)
    decision = decide(POLICY, window[-5:], 1, 0.0, 100.0, throughput=10.0, arrivals=seen)
    assert decision.direction == "up"
    for fact in ("λ 12.0/s", "μ 10.00/s/worker", "backlog 0 (mean 0)", "latency 0.0s (mean 0.0s)"):
        assert fact in decision.reason
    assert decision.signals["arrival_rate"] == pytest.approx(12.0)


def test_down_waits_until_an_arrival_rate_is_known():
    window = samples([])[:1]
    seen = estimate(window, horizon=8.0)
    decision = decide(POLICY, window, 4, 0.0, 100.0, throughput=10.0, arrivals=seen)
    assert decision.direction == "hold" and "not known" in decision.reason


# --- whole load shapes through the model


@pytest.mark.parametrize(
    ("mu", "startup", "overhead", "p95"),
    [
        (10.0, 3.0, 0.0, 0.5),  # an idle machine: local workers start in 3 s
        (6.9, 9.0, 0.25, 5.0),  # a loaded one: slow starts, a quarter of the time between tasks
    ],
)
def test_a_ramp_is_met_before_its_backlog_builds(mu, startup, overhead, p95):
    # given one worker, then arrivals rising from 0 to 40/s over 60 s, held 30 s
    ramp = ramp_then_hold(10.0, 60.0, 30.0, 40.0)
    out = run(POLICY, ramp, 150.0, workers=1, mu=mu, startup=startup, overhead=overhead)
    # then waits stay below half the target, work is never lost
    assert out.percentile(0.95) <= p95
    assert out.lost < 1
    # and the count only goes up while the arrivals rise
    assert out.phases(0.0, 100.0) == ["up"]
    # and the first scale-up comes before one worker is saturated (λ = μ at t = 25 s or less)
    first_up = next(t for t, d in out.decisions if d.direction == "up")
    assert first_up <= 10.0 + 60.0 * mu / 40.0
    # and it costs well under a static fleet of 6 for the window
    assert out.worker_seconds() <= 0.7 * 6 * 150.0


def test_a_ramp_met_by_five_workers_does_not_flap():
    # given five workers when arrivals start rising from 0 to 40/s over 60 s
    ramp = ramp_then_hold(0.0, 60.0, 30.0, 40.0)
    out = run(POLICY, ramp, 120.0, workers=5, mu=10.0, startup=3.0)
    # then it may give back what the first seconds do not need, but never scales down
    # once it has scaled up: down → up at most, not down → up → down → up
    assert out.phases(0.0, 90.0) in (["up"], ["down", "up"]), out.directions
    assert out.percentile(0.95) <= POLICY.target_latency / 4


def test_a_sawtooth_has_one_up_and_one_down_phase_per_burst():
    # given a steady 3/s and bursts of 300 tasks every 30 s
    bursts = [10.0, 40.0, 70.0, 100.0]

    def rate(t: float) -> float:
        return 3.0 + sum(300.0 for b in bursts if b <= t < b + 1.0)

    out = run(POLICY, rate, 160.0, workers=1, mu=10.0, startup=3.0)
    for start, end in zip(bursts, [*bursts[1:], 160.0], strict=True):
        assert out.phases(start + 5.0, end + 5.0) in (["up"], ["up", "down"]), out.directions
    # (waits: detection within a tick, start-up, then the drain at the maximum)
    assert out.percentile(0.95) <= 1.5 * POLICY.target_latency
    assert out.lost < 1
    # and between bursts it never drops below what the steady 3/s needs (one worker)
    assert min(n for _, n in out.counts) >= 1


@pytest.mark.parametrize("rate", [8.0, 25.0, 35.0])
@pytest.mark.parametrize("seed", range(4))
def test_a_steady_noisy_load_keeps_a_steady_count(rate, seed):
    # given a steady load with ±15% noise per interval (what Poisson arrivals give at ~25/s)
    out = run(POLICY, lambda t: rate, 600.0, workers=1, mu=10.0, noise=0.15, seed=seed)
    # then after the first scale-up it adds no worker on noise, and moves at most once
    settled = [d.direction for t, d in out.decisions if t >= 30.0]
    assert "up" not in settled and len(settled) <= 1, out.directions
    assert out.percentile(0.95) <= 1.0


def test_the_right_count_for_a_steady_load_is_kept_from_the_start():
    # given 4 workers for 25/s (0.8 busy at most: 4) and ±15% noise
    for seed in range(4):
        out = run(POLICY, lambda t: 25.0, 600.0, workers=4, mu=10.0, noise=0.15, seed=seed)
        assert out.decisions == [], out.directions


# --- settings


def test_arrival_settings_come_from_the_environment():
    settings = Settings.from_env(
        {
            "HAULER_AUTOSCALE_HISTORY": "20",
            "HAULER_AUTOSCALE_STARTUP": "12.5",
            "HAULER_AUTOSCALE_MEDIA_UTILIZATION": "0.7",
            "HAULER_AUTOSCALE_MEDIA_DOWN_UTILIZATION": "0.4",
        }
    )
    assert (settings.autoscale.history, settings.autoscale.startup) == (20, 12.5)
    media = settings.autoscale.policy("media")
    assert (media.utilization, media.down_utilization) == (0.7, 0.4)
    assert settings.autoscale.policy("health").utilization == 0.8


def test_a_band_without_hysteresis_is_refused_naming_the_settings():
    env = {
        "HAULER_AUTOSCALE_MEDIA_UTILIZATION": "0.6",
        "HAULER_AUTOSCALE_MEDIA_DOWN_UTILIZATION": "0.6",
        "HAULER_AUTOSCALE_NOTIFY_UTILIZATION": "1.5",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    joined = "\n".join(caught.value.problems)
    assert "HAULER_AUTOSCALE_MEDIA_DOWN_UTILIZATION=0.6 must be below" in joined
    assert "HAULER_AUTOSCALE_NOTIFY_UTILIZATION must be at most 1" in joined
