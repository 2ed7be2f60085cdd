"""Two beats give each period's run exactly once; a killed beat's standby takes over."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tests.integration.conftest import ROOT
from tests.integration.faults.periodic_tasks import TICKS
from tests.integration.faults.schedule_every_5s import ENTRY
from tests.integration.services import wait_for

pytestmark = pytest.mark.integration

LOCK_TIMEOUT = 4  # seconds; beat's loop interval is a tenth of it
PERIOD = 5.0
SENT = f"Sending due task {ENTRY}"


class Beat:
    """A real ``hauler beat`` process with its log."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hauler.cli.main", "beat"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def sent(self) -> int:
        return self.text().count(SENT)

    def holds_lock(self) -> bool:
        return "beat: Acquired lock" in self.text()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def beat_env(hauler_env: dict[str, str]) -> dict[str, str]:
    return {
        **hauler_env,
        "HAULER_IMPORTS": "tests.integration.faults.periodic_tasks",
        "HAULER_BEAT_SCHEDULE": "tests.integration.faults.schedule_every_5s",
        "HAULER_BEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
    }


@pytest.fixture
def beats(beat_env: dict[str, str], tmp_path: Path) -> Iterator[list[Beat]]:
    started = [Beat(beat_env, tmp_path / f"beat-{n}.log") for n in (1, 2)]
    yield started
    for beat in started:
        beat.stop()
        print(f"--- {beat.log.name} (tail) ---\n{beat.text()[-2500:]}")


def ticks(redis_url: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in redis.Redis.from_url(redis_url).lrange(TICKS, 0, -1)]


def gaps(runs: list[dict[str, Any]]) -> list[float]:
    times = sorted(run["at"] for run in runs)
    return [round(b - a, 1) for a, b in itertools.pairwise(times)]


def test_two_beats_run_each_period_once(
    start_worker: Any, beat_env: dict[str, str], beats: list[Beat], redis_url: str
) -> None:
    # given: a health worker and two beats for one 5 s entry
    start_worker(["health"], env=beat_env)
    wait_for(lambda: ticks(redis_url), timeout=30)
    first = time.monotonic()

    # when: three more periods pass
    time.sleep(3 * PERIOD + 2)

    # then: one run per period, all sent by one beat
    runs = ticks(redis_url)
    seconds = time.monotonic() - first
    sent = [beat.sent() for beat in beats]
    spacing = gaps(runs)
    duplicated = sum(gap < PERIOD / 2 for gap in spacing)
    missed = sum(gap > PERIOD * 1.5 for gap in spacing)
    counts = (
        f"over {seconds:.0f} s: runs {len(runs)}, sent per beat {sent}, "
        f"duplicated {duplicated}, missed {missed}, gaps {spacing}"
    )
    print(counts)
    assert len(runs) >= 4 and duplicated == 0 and missed == 0, counts
    assert sorted(sent) == [0, len(runs)], counts
    assert all(abs(gap - PERIOD) <= 1.5 for gap in spacing), counts


def test_killed_beat_is_replaced_within_the_lock_timeout(
    start_worker: Any, beat_env: dict[str, str], beats: list[Beat], redis_url: str
) -> None:
    # given: two beats, one holding the lock and sending the entry
    start_worker(["health"], env=beat_env)
    wait_for(lambda: ticks(redis_url), timeout=30)
    holder = wait_for(lambda: next((b for b in beats if b.holds_lock()), None), timeout=10)
    standby = next(b for b in beats if b is not holder)
    assert not standby.holds_lock()

    # when: the holder is killed with SIGKILL (no release of its lock)
    holder.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_for(standby.holds_lock, timeout=LOCK_TIMEOUT * 3, interval=0.05)
    recovered = time.monotonic() - killed
    wait_for(lambda: standby.sent() >= 1, timeout=PERIOD + LOCK_TIMEOUT + 5)
    time.sleep(PERIOD + 1)

    # then: the standby took over within the lock timeout (plus one loop interval)
    # and the schedule went on without a duplicate or a missed period
    runs = ticks(redis_url)
    spacing = gaps(runs)
    counts = (
        f"seconds to recover {recovered:.1f}, runs {len(runs)}, "
        f"sent by holder {holder.sent()} / standby {standby.sent()}, gaps {spacing}"
    )
    print(counts)
    assert recovered <= LOCK_TIMEOUT * 1.1 + 1.0, counts
    assert len(runs) == holder.sent() + standby.sent(), counts
    assert all(PERIOD - 1.5 <= gap <= PERIOD + LOCK_TIMEOUT * 1.1 + 1.5 for gap in spacing), counts


def test_a_second_message_for_one_scheduled_run_is_dropped(
    start_worker: Any, beat_env: dict[str, str], client_app: Celery, redis_url: str
) -> None:
    # given: a worker, and two messages that name the same scheduled run (a beat's double send)
    start_worker(["health"], env=beat_env)
    run = {"hauler_periodic_run": f"{ENTRY}:1700000000"}
    other = {"hauler_periodic_run": f"{ENTRY}:1700000010"}

    # when: both are sent, then one for the next period
    tick = "tests.periodic_tick"
    first = client_app.send_task(tick, kwargs={"note": "a"}, queue="health", headers=run)
    first.get(timeout=30)
    again = client_app.send_task(tick, kwargs={"note": "b"}, queue="health", headers=run)
    nxt = client_app.send_task(tick, kwargs={"note": "c"}, queue="health", headers=other)
    nxt.get(timeout=30)
    time.sleep(1)

    # then: the run ran once, the next period ran too, and the second send never ran
    notes = [tick["note"] for tick in ticks(redis_url)]
    counts = f"runs {notes}, duplicated {notes.count('b')}, second send state {again.state}"
    assert notes == ["a", "c"], counts
    claim = redis.Redis.from_url(redis_url).get(f"hauler:periodic:{ENTRY}:1700000000")
    assert claim is not None and claim.decode() == first.id, counts
