"""Nothing lost, nothing run twice: broker restarts, killed workers, killed pool processes.

Against real ``celery worker`` subprocesses and a private redis-server (AOF, fsync always)
that the tests stop, kill and start again. Executions are noted by ``tests.record`` on the
machine's Redis (TEST_RECORD_URL), which stays up while the broker goes away.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from kombu import Exchange, Queue

from hauler.redelivery import RESTORED_KEY, Sweeper
from hauler.settings import Settings
from tests.integration.faults.private_redis import PrivateRedis
from tests.integration.services import wait_for
from tests.integration.tcp_proxy import TcpProxy

DEAD_AFTER = 3.0  # seconds without a heartbeat before a worker counts as dead, in these tests


@pytest.fixture
def broker(tmp_path: Path, hauler_env: dict[str, str], redis_url: str) -> Iterator[PrivateRedis]:
    """A private broker for this test; executions are noted on the machine's Redis."""
    server = PrivateRedis(tmp_path / "broker").start()
    hauler_env.update(
        HAULER_BROKER_URL=server.url(),
        TEST_RECORD_URL=redis_url,
        HAULER_REDELIVERY_DEAD_AFTER=str(DEAD_AFTER),
        HAULER_REDELIVERY_SWEEP_SECONDS="0.5",
    )
    yield server
    server.stop()


@pytest.fixture
def sweeping(broker: PrivateRedis, request: pytest.FixtureRequest) -> object:
    """The recorder (and so the redelivery sweeper), started once the broker is set."""
    return request.getfixturevalue("recorder")


def sender(broker_url: str, backend_url: str) -> Celery:
    app = Celery("fault-sender", broker=broker_url, backend=backend_url)
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
    return app


class Ledger:
    """Reads what ``tests.record`` noted for a set of keys."""

    def __init__(self, url: str, keys: list[str]) -> None:
        self.client = redis.Redis.from_url(url)
        self.keys = keys

    def started(self, key: str) -> list[dict[str, object]]:
        return [json.loads(raw) for raw in self.client.lrange(f"record:{key}:started", 0, -1)]

    def finished(self, key: str) -> int:
        return int(self.client.llen(f"record:{key}:finished"))

    def counts(self) -> dict[str, int]:
        finished = [self.finished(key) for key in self.keys]
        starts = [len(self.started(key)) for key in self.keys]
        return {
            "done": sum(1 for n in finished if n >= 1),
            "lost": sum(1 for n in finished if n == 0),
            "duplicated": sum(1 for n in finished if n > 1),
            "started_twice": sum(1 for n in starts if n > 1),
        }

    def all_done(self) -> bool:
        return all(self.finished(key) >= 1 for key in self.keys)


def _send(app: Celery, keys: list[str], seconds: float) -> list[str]:
    return [app.send_task("tests.record", args=[key, seconds], queue="health").id for key in keys]


def _wait_quietly(predicate: object, timeout: float) -> bool:
    try:
        wait_for(predicate, timeout=timeout, interval=0.2)  # type: ignore[arg-type]
        return True
    except AssertionError:
        return False


@pytest.mark.parametrize(
    ("stop", "results"),
    [("shutdown", "broker"), ("kill", "broker"), ("shutdown", "separate")],
)
def test_a_broker_restart_mid_run_loses_nothing_and_runs_nothing_twice(
    broker: PrivateRedis,
    sweeping: object,
    start_worker,
    hauler_env: dict[str, str],
    redis_url: str,
    stop: str,
    results: str,
) -> None:
    # given results on the broker (the default) or on a Redis that stays up, and a
    # worker running 4 tasks at a time from a backlog of 16 one-second tasks
    backend = broker.url() if results == "broker" else redis_url
    if results == "separate":
        hauler_env["HAULER_RESULT_BACKEND"] = redis_url
    start_worker(["health"], name="busy", concurrency=4)
    keys = [f"k{i}-{uuid.uuid4().hex[:8]}" for i in range(16)]
    ledger = Ledger(redis_url, keys)
    app = sender(broker.url(), backend)
    ids = _send(app, keys, 1.0)
    wait_for(lambda: sum(len(ledger.started(k)) for k in keys) >= 5, timeout=30)
    time.sleep(0.4)  # mid-task: no BRPOP is being answered (see README, Known limits)
    # when Redis goes away mid-run (SHUTDOWN or kill -9) and is back 3 s later
    broker.shutdown() if stop == "shutdown" else broker.kill()
    down_at = time.monotonic()
    time.sleep(3.0)
    broker.start()
    # then every task ran to completion exactly once and has its result
    recovered = _wait_quietly(ledger.all_done, timeout=45)
    seconds = time.monotonic() - down_at
    time.sleep(DEAD_AFTER + 2)  # room for a late, wrong redelivery to show itself
    counts = ledger.counts()
    states = [app.AsyncResult(task_id).state for task_id in ids]
    unacked = redis.Redis.from_url(broker.url()).hlen("unacked")
    restored = int(redis.Redis.from_url(broker.url()).get(RESTORED_KEY) or 0)
    summary = (
        f"{counts}, {seconds:.1f} s to recover, states {set(states)}, "
        f"unacked {unacked}, given back by the sweeper {restored}"
    )
    print(summary)
    assert recovered and counts["lost"] == 0, summary
    assert counts["duplicated"] == 0 and counts["started_twice"] == 0, summary
    assert states == ["SUCCESS"] * len(ids), summary
    assert unacked == 0, summary
    app.close()


def test_a_cut_broker_connection_with_redis_up_runs_nothing_twice(
    broker: PrivateRedis, sweeping: object, start_worker, hauler_env: dict[str, str], redis_url: str
) -> None:
    # given a worker that reaches Redis through a proxy, running 4 one-second tasks at a
    # time from a backlog of 16 (the recorder reaches Redis directly)
    proxy = TcpProxy("127.0.0.1", broker.port)
    through_proxy = {**hauler_env, "HAULER_BROKER_URL": f"redis://127.0.0.1:{proxy.port}/0"}
    start_worker(["health"], name="proxied", concurrency=4, env=through_proxy)
    keys = [f"c{i}-{uuid.uuid4().hex[:8]}" for i in range(16)]
    ledger = Ledger(redis_url, keys)
    app = sender(broker.url(), broker.url())
    ids = _send(app, keys, 1.0)
    wait_for(lambda: sum(len(ledger.started(k)) for k in keys) >= 6, timeout=30)
    # when every connection of the worker is cut while Redis stays up
    proxy.cut()
    proxy.restore()
    cut_at = time.monotonic()
    # then every task ran to completion exactly once (the running ones were not put
    # back in the queue while they ran)
    recovered = _wait_quietly(ledger.all_done, timeout=45)
    seconds = time.monotonic() - cut_at
    time.sleep(DEAD_AFTER + 2)
    counts = ledger.counts()
    states = {app.AsyncResult(task_id).state for task_id in ids}
    summary = f"{counts}, {seconds:.1f} s to recover, states {states}"
    print(summary)
    assert recovered and counts["lost"] == 0, summary
    assert counts["duplicated"] == 0 and counts["started_twice"] == 0, summary
    assert states == {"SUCCESS"}, summary
    app.close()
    proxy.close()


def test_workers_consume_again_within_seconds_after_the_broker_returns(
    broker: PrivateRedis, start_worker, redis_url: str
) -> None:
    # given an idle worker on the private broker
    start_worker(["health"], name="idle")
    app = sender(broker.url(), broker.url())
    # when Redis stops for 3 s and comes back, and a task is sent at once
    broker.shutdown()
    time.sleep(3.0)
    broker.start()
    back_at = time.monotonic()
    key = uuid.uuid4().hex
    ledger = Ledger(redis_url, [key])
    _send(app, [key], 0.0)
    # then a worker has run it within a few seconds
    done = _wait_quietly(ledger.all_done, timeout=20)
    seconds = time.monotonic() - back_at
    summary = f"{ledger.counts()}, consumed {seconds:.1f} s after Redis was back"
    print(summary)
    assert done and seconds < 8, summary
    app.close()


def test_a_killed_worker_s_message_goes_back_promptly_and_runs_once(
    broker: PrivateRedis, sweeping: object, start_worker, redis_url: str
) -> None:
    # given two workers and a task running on one of them
    workers = {name: start_worker(["health"], name=name, wait=False) for name in ("left", "right")}
    for worker in workers.values():
        worker.wait_ready()
    key = uuid.uuid4().hex
    ledger = Ledger(redis_url, [key])
    app = sender(broker.url(), broker.url())
    (task_id,) = _send(app, [key], 4.0)
    first = wait_for(lambda: ledger.started(key), timeout=30)[0]
    doomed = workers[str(first["worker"])]
    # when that whole worker (main process and pool) is killed with kill -9
    os.killpg(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(timeout=10)
    killed_at = time.monotonic()
    # then the other worker runs it within seconds (not the visibility timeout), once
    again = _wait_quietly(lambda: len(ledger.started(key)) >= 2, timeout=30)
    seconds = time.monotonic() - killed_at
    assert app.AsyncResult(task_id).get(timeout=30) == {"key": key}
    time.sleep(DEAD_AFTER + 1)
    counts = ledger.counts()
    summary = f"{counts}, redelivered after {seconds:.1f} s"
    print(summary)
    assert again and seconds < DEAD_AFTER + 6, summary
    starts = ledger.started(key)
    assert starts[1]["worker"] != first["worker"], summary
    assert len(starts) == 2 and counts["duplicated"] == 0 and counts["done"] == 1, summary
    assert int(redis.Redis.from_url(broker.url()).get(RESTORED_KEY) or 0) == 1, summary
    app.close()


def test_a_message_that_comes_back_after_its_task_finished_is_not_run_again(
    broker: PrivateRedis, sweeping: object, start_worker, redis_url: str
) -> None:
    # given a worker running two tasks, killed with kill -9 after their results were
    # stored (one SUCCESS, one FAILURE), so that their messages are still unacknowledged
    doomed = start_worker(["health"], name="doomed", concurrency=2)
    keys = [f"ok-{uuid.uuid4().hex[:8]}", f"failed-{uuid.uuid4().hex[:8]}"]
    ledger = Ledger(redis_url, keys)
    app = sender(broker.url(), broker.url())
    succeeded, failed = _send(app, keys, 5.0)
    wait_for(lambda: all(ledger.started(key) for key in keys), timeout=30)
    os.killpg(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(timeout=10)
    app.backend.mark_as_done(succeeded, {"key": keys[0]})
    app.backend.mark_as_failure(failed, ValueError("failed for good"))
    start_worker(["health"], name="survivor", concurrency=2)
    # when the sweeper gives both messages back and the survivor receives them
    client = redis.Redis.from_url(broker.url())
    wait_for(lambda: int(client.get(RESTORED_KEY) or 0) >= 2, timeout=30)
    wait_for(lambda: client.llen("health") == 0 and client.hlen("unacked") == 0, timeout=30)
    time.sleep(1.0)
    # then both are acknowledged without running again, and keep their final states
    counts = ledger.counts()  # "done" counts runs that finished: none should, both were killed
    states = [app.AsyncResult(task_id).state for task_id in (succeeded, failed)]
    starts = {key: len(ledger.started(key)) for key in keys}
    summary = (
        f"starts {starts}, finished runs {counts['done']}, duplicated {counts['duplicated']}, "
        f"states {states}, given back {client.get(RESTORED_KEY)}, unacked {client.hlen('unacked')}"
    )
    print(summary)
    assert counts["started_twice"] == 0 and counts["done"] == 0, summary
    assert states == ["SUCCESS", "FAILURE"], summary
    app.close()


def test_a_live_worker_s_long_task_is_never_redelivered(
    broker: PrivateRedis, sweeping: object, start_worker, redis_url: str
) -> None:
    # given two workers, one of them idle, and a task that runs for several dead-after
    # periods (and so many sweeps) on the other
    workers = [start_worker(["health"], name=name, wait=False) for name in ("runner", "spare")]
    for worker in workers:
        worker.wait_ready()
    key = uuid.uuid4().hex
    ledger = Ledger(redis_url, [key])
    app = sender(broker.url(), broker.url())
    (task_id,) = _send(app, [key], 3 * DEAD_AFTER)
    # when it runs to completion
    assert app.AsyncResult(task_id).get(timeout=60) == {"key": key}
    time.sleep(1.0)
    # then it started once: the sweeper left the live worker's message alone
    counts = ledger.counts()
    restored = int(redis.Redis.from_url(broker.url()).get(RESTORED_KEY) or 0)
    summary = f"{counts}, restored {restored}"
    print(summary)
    assert len(ledger.started(key)) == 1 and counts["done"] == 1, summary
    assert restored == 0, summary
    app.close()


def test_a_killed_pool_process_s_task_runs_next_not_behind_the_backlog(
    start_worker, client_app: Celery, redis_url: str
) -> None:
    # given one worker process busy with a task, and a backlog of 8 behind it
    worker = start_worker(["health"], name="single", concurrency=1)
    interrupted = f"long-{uuid.uuid4().hex[:8]}"
    backlog = [f"b{i}-{uuid.uuid4().hex[:8]}" for i in range(8)]
    ledger = Ledger(redis_url, [interrupted, *backlog])
    client_app.send_task("tests.record", args=[interrupted, 3.0], queue="health")
    runner = wait_for(lambda: ledger.started(interrupted), timeout=30)[0]
    for key in backlog:
        client_app.send_task("tests.record", args=[key, 0.2], queue="health")
    # when the pool process running it is killed with kill -9
    os.kill(int(str(runner["pid"])), signal.SIGKILL)
    killed_at = time.monotonic()
    # then it is the next task to start, ahead of the backlog
    wait_for(lambda: len(ledger.started(interrupted)) >= 2, timeout=60)
    seconds = time.monotonic() - killed_at
    wait_for(ledger.all_done, timeout=60)
    order = [k.decode() for k in ledger.client.lrange("record:order", 0, -1)]
    counts = ledger.counts()
    summary = f"{counts}, order {order[:3]}…, rerun after {seconds:.1f} s"
    print(summary)
    assert order[:2] == [interrupted, interrupted], summary
    assert counts["lost"] == 0 and counts["duplicated"] == 0, summary
    assert worker.process.poll() is None, summary


def test_one_sweeper_acts_at_a_time_and_puts_an_orphan_at_the_front(
    redis_url: str, tmp_path: Path
) -> None:
    # given two sweepers (two recorders) and a message delivered to a consumer that died
    # without a heartbeat, behind which another message waits
    settings = Settings.from_env(
        {
            "HAULER_BROKER_URL": redis_url,
            "HAULER_DATA_DIR": str(tmp_path),
            "HAULER_REDELIVERY_DEAD_AFTER": "1",
            "HAULER_REDELIVERY_SWEEP_SECONDS": "0.5",
        }
    )
    app = Celery("sweeper-test", broker=redis_url)
    app.conf.broker_transport = "hauler.transport:Transport"
    first, second = Sweeper(settings, app), Sweeper(settings, app)
    queue = Queue("health", Exchange("health"), routing_key="health")
    with app.connection_for_write() as connection:
        producer = connection.Producer()
        for body in ("orphan", "waiting"):
            producer.publish(body, routing_key="health", exchange=queue.exchange, declare=[queue])
        channel = connection.default_channel
        channel.do_restore = False  # the consumer dies: nothing gives the message back
        assert channel.basic_get("health", no_ack=False).body == b"orphan"
    client = redis.Redis.from_url(redis_url)
    assert client.hlen("unacked") == 1
    # when both sweep, before and after the dead-after time
    early = (first.tick(), second.tick())
    time.sleep(1.2)
    late = (second.tick(), first.tick())
    # then only the lease holder gave it back, once, to the front of the queue
    front = json.loads(client.lindex("health", -1) or b"{}")
    summary = f"early {early}, late {late}, unacked {client.hlen('unacked')}"
    assert early == ([], []) and late[0] == [] and len(late[1]) == 1, summary
    assert client.hlen("unacked") == 0 and client.llen("health") == 2, summary
    assert base64.b64decode(front["body"]) == b"orphan", summary
    assert front["headers"].get("redelivered") is True, summary
    first._release()
