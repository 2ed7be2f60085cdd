"""The scaling policy, driven by a fake clock: fast up, slow down, bounded, no flapping."""

from __future__ import annotations

from autoscale.policy import Sample, decide, per_worker_throughput
from autoscale.settings import QueuePolicy

POLICY = QueuePolicy(
    queue="media",
    min_workers=1,
    max_workers=6,
    target_latency=10.0,
    up_step=8,
    down_step=1,
    up_cooldown=5.0,
    down_cooldown=10.0,
    down_threshold=0.5,
)


def window(depth: int, latency: float = 0.0, in_flight: int = 0, n: int = 3) -> list[Sample]:
    return [
        Sample(at=100.0 + i, depth=depth, latency=latency, in_flight=in_flight, completed=0)
        for i in range(n)
    ]


def test_a_burst_scales_up_several_workers_at_once():
    decision = decide(POLICY, window(6000, latency=4.0), current=1, last_action_at=0, now=100)
    assert (decision.direction, decision.desired) == ("up", 6)
    assert "backlog" in decision.reason


def test_never_above_max_or_below_min():
    assert decide(POLICY, window(10**6), current=6, last_action_at=0, now=100).desired == 6
    assert decide(POLICY, window(0), current=1, last_action_at=0, now=100).desired == 1
    assert decide(POLICY, window(0), current=9, last_action_at=99, now=100).desired == 6
    assert decide(POLICY, window(0), current=0, last_action_at=99, now=100).desired == 1


def test_observed_throughput_sets_the_target():
    # 300 waiting, 3 per second per worker, target 10 s → 10 workers wanted, 6 at most
    assert decide(POLICY, window(300), 1, 0, 100, throughput=3.0).desired == 6
    # 40 waiting at 3/s/worker → 2 workers
    assert decide(POLICY, window(40), 1, 0, 100, throughput=3.0).desired == 2


def test_latency_over_target_adds_a_worker_even_when_the_backlog_looks_small():
    decision = decide(
        POLICY, window(5, latency=30.0), current=2, last_action_at=0, now=100, throughput=50.0
    )
    assert decision.desired == 3


def test_scaling_up_waits_for_its_cooldown():
    decision = decide(POLICY, window(6000), current=2, last_action_at=97, now=100)
    assert decision.direction == "hold" and "cooling down" in decision.reason


def test_scaling_down_is_one_step_after_the_longer_cooldown():
    # a little left to do (2 waiting, 1 running): one step at a time, after the cooldown
    busy = window(2, in_flight=1)
    assert decide(POLICY, busy, current=6, last_action_at=95, now=100).direction == "hold"
    decision = decide(POLICY, busy, current=6, last_action_at=85, now=100, throughput=5.0)
    assert (decision.direction, decision.desired) == ("down", 5)
    assert decision.reason.startswith("down: need 1")


def test_an_idle_queue_goes_to_what_its_arrivals_need_at_once():
    decision = decide(POLICY, window(0), current=6, last_action_at=85, now=100)
    assert (decision.direction, decision.desired) == ("down", 1)
    assert decision.reason.startswith("down: idle")


def test_hysteresis_holds_while_the_need_is_near_the_current_count():
    # need 4 of 6 (> 6 x 0.5): hold; need 2 of 6 (<= 3): one step down
    held = decide(POLICY, window(30, in_flight=6), 6, 0, 100, throughput=1.0)
    assert held.desired == 6 and held.reason.startswith("inside the hysteresis band")
    assert decide(POLICY, window(14, in_flight=6), 6, 0, 100, throughput=1.0).desired == 5


def test_a_steady_load_does_not_flap():
    # given a queue whose backlog wobbles around what 3 workers handle
    current, last_action, changes, previous = 3, 0.0, 0, "hold"
    for second in range(0, 600, 5):
        depth = 60 + (15 if (second // 5) % 2 else -15)
        decision = decide(
            POLICY, window(depth, in_flight=3), current, last_action, float(second), throughput=2.0
        )
        if decision.desired != current:
            if decision.direction != previous:
                changes += 1
                previous = decision.direction
            current, last_action = decision.desired, float(second)
    # then the count settles after at most one change of direction
    assert changes <= 1


def test_messages_per_worker_target():
    policy = QueuePolicy(queue="q", max_workers=10, messages_per_worker=100)
    assert decide(policy, window(450), 1, 0, 100).desired == 5


def test_throughput_is_completions_per_second_per_busy_worker():
    samples = [
        Sample(at=float(t), depth=100, latency=1, in_flight=4, completed=40 * t) for t in range(5)
    ]
    assert per_worker_throughput(samples, workers=4) == 10.0
    idle = [Sample(at=float(t), depth=0, latency=0, in_flight=0, completed=5) for t in range(5)]
    assert per_worker_throughput(idle, workers=4) is None


def test_a_draining_burst_steps_down_on_the_latest_samples():
    # given a window that still remembers a big backlog, but the last two samples show
    # only 40 left at 19 tasks/s per worker (one worker clears it within the target)
    samples = [
        Sample(at=100.0 + 5 * i, depth=d, latency=1.0, in_flight=6, completed=0)
        for i, d in enumerate([4000, 3000, 2000, 60, 20])
    ]
    decision = decide(POLICY, samples, current=6, last_action_at=0, now=130, throughput=19.0)
    # then it steps down by one although the whole window's need is still the maximum
    assert decision.signals["need"] == 6 and decision.signals["recent_need"] == 1
    assert (decision.direction, decision.desired) == ("down", 5)


def test_an_idle_queue_with_arrivals_keeps_what_they_need():
    from autoscale.arrivals import Arrivals

    # nothing waits or runs this instant, but 20/s arrive at 10/s per worker
    seen = Arrivals(rate=20.0, latest=20.0, ahead=20.0, intervals=4)
    decision = decide(POLICY, window(0), 6, 0, 100, throughput=10.0, arrivals=seen)
    assert (decision.direction, decision.desired) == ("down", 4)  # 20 / (10 x 0.6) → 4


def test_a_drained_burst_the_window_remembers_asks_for_no_worker():
    # given one worker left after a burst: the window's mean backlog is still 190, but
    # the last two samples show nothing waiting or running
    samples = [
        Sample(at=100.0 + 5 * i, depth=d, latency=0.0, in_flight=0, completed=0)
        for i, d in enumerate([600, 300, 50, 0, 0])
    ]
    decision = decide(POLICY, samples, current=1, last_action_at=0, now=130, throughput=17.0)
    # then it does not scale up again (no down → up flap after the drain)
    assert decision.signals["need"] >= 2 and decision.direction == "hold", decision.reason
