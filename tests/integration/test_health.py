"""Health checks against the real thing: every check made to fail for real, then recovered."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from celery import Celery
from sqlalchemy import select

from autoscale.lock import LeaderLock
from hauler import deadletter
from hauler.health.document import entries
from hauler.health.report import health_document, latest
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity
from tests.integration.conftest import ROOT
from tests.integration.services import tmpfs, wait_for
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

#: Short limits so that a stopped process shows within seconds (the defaults are minutes).
FAST = {
    "HAULER_REDELIVERY_DEAD_AFTER": "3",
    "HAULER_REDELIVERY_SWEEP_SECONDS": "1",
    "HAULER_BEAT_LOCK_TIMEOUT": "10",
    "HAULER_HEALTH_BEAT_MAX_AGE": "4",
    "HAULER_HEALTH_RECORDER_MAX_AGE": "7",
    "HAULER_HEALTH_PROBE_TIMEOUT": "2",
    "HAULER_HEALTH_CACHE_SECONDS": "0",
    "HAULER_HEALTH_DEAD_LETTER_FAIL": "1",
    "HAULER_HEALTH_HEAL_GRACE": "10",
    "HAULER_HEALTH_HEAL_BACKOFF": "1",
    "HAULER_HEALTH_SKIP": "backup",
    # the beat here is for its heartbeat: no polling worker runs, so the watch's and failure
    # polling's messages would wait on a queue with no worker (a real workers:live failure)
    "HAULER_SCHEDULE_WATCH": "off",
    "HAULER_SCHEDULE_POLL_CLIENTS": "off",
}


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A proxy in front of PostgreSQL: cut, the database is gone for everyone using it."""
    proxy = TcpProxy("127.0.0.1", 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def health_env(hauler_env: dict[str, str], proxy: TcpProxy, tmp_path: Path) -> dict[str, str]:
    """This test's deployment, its database behind the proxy, its downloads on a tmpfs."""
    hauler_env.update(FAST)
    hauler_env["HAULER_DATABASE_URL"] = hauler_env["HAULER_DATABASE_URL"].replace(
        "127.0.0.1:5432", f"127.0.0.1:{proxy.port}"
    )
    hauler_env["HAULER_DOWNLOAD_DIR"] = str(tmp_path / "downloads")
    return hauler_env


def _document(env: dict[str, str]) -> dict[str, Any]:
    return health_document(Settings.from_env(env))


def _status(document: dict[str, Any], key: str, ident: str | None = None) -> str:
    found = [e for k, e in entries(document) if k == key and e.get("componentId") == ident]
    assert found, f"no {key} {ident} in {json.dumps(document)[:2000]}"
    return str(found[0]["status"])


def _until(env: dict[str, str], wanted: dict[tuple[str, str | None], str]) -> dict[str, Any]:
    """Wait until every (key, componentId) has the wanted status; the document then."""

    def ready() -> dict[str, Any] | None:
        document = _document(env)
        got = {check: _status(document, *check) for check in wanted}
        return document if got == wanted else None

    return wait_for(ready, timeout=45, interval=0.5)


def _start(env: dict[str, str], tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (tmp_path / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGCONT)
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


PASSING = {
    ("broker:responseTime", None): "pass",
    ("database:responseTime", None): "pass",
    ("workers:live", "media"): "pass",
    ("beat:heartbeatAge", None): "pass",
    ("recorder:heartbeatAge", None): "pass",
    ("autoscaler:leader", None): "pass",
    ("disk:freeRatio", "downloads"): "pass",
    ("deadLetters:growth", None): "pass",
}


def test_every_check_fails_for_real_and_passes_again(
    health_env, recorder, start_worker, client_app: Celery, proxy: TcpProxy, tmp_path: Path
):
    env = health_env
    port = env["HAULER_RECORDER_PORT"]
    client = redis.Redis.from_url(env["HAULER_BROKER_URL"])
    with tmpfs(Path(env["HAULER_DOWNLOAD_DIR"]), "1m") as downloads:
        # given a deployment whose every part runs: a worker, beat, the recorder, a leader
        beat = _start(env, tmp_path, "beat", "-m", "hauler.cli.main", "beat")
        worker = start_worker(["health", "media"], env=env)
        leader = LeaderLock(client, lease=600)
        assert leader.acquire()
        try:
            document = _until(env, PASSING)
            assert document["status"] == "pass", document["notes"]
            served = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
            assert served.status_code == 200
            assert served.headers["Content-Type"] == "application/health+json"
            assert served.json()["checks"]["workers:live"][0]["observedUnit"] == "workers"

            # when a task is dead-lettered and the disk of the downloads fills up
            bad = client_app.send_task("health.ping", args=["soon"], queue="health")
            with pytest.raises(Exception, match="delay"):
                bad.get(timeout=30)
            (downloads / "filler").write_bytes(b"\0" * (1024 * 1024 - 8192))
            document = _until(
                env, {("deadLetters:growth", None): "fail", ("disk:freeRatio", "downloads"): "fail"}
            )
            # then the recorder serves the failing document with 503
            served = wait_for(lambda: _get_if(f"http://127.0.0.1:{port}/health", 503), timeout=20)
            assert "disk/downloads" in " ".join(served["notes"])
            assert _status(served, "disk:freeRatio", "data") == "pass"

            # when the worker, beat, the recorder, the leader and the database all go away
            worker.stop()
            waiting = client_app.send_task("media.ping", queue="media")
            beat.terminate()
            beat.wait(timeout=20)
            os.killpg(recorder.pid, signal.SIGSTOP)
            leader.release()
            proxy.cut()
            document = _until(
                env,
                {
                    ("workers:live", "media"): "fail",
                    ("beat:heartbeatAge", None): "fail",
                    ("recorder:heartbeatAge", None): "fail",
                    ("autoscaler:leader", None): "fail",
                    ("database:responseTime", None): "fail",
                    ("broker:responseTime", None): "pass",
                },
            )
            # then each says why, and the whole fails
            assert document["status"] == "fail"
            notes = " ".join(document["notes"])
            assert "1 message(s) waiting and no live worker" in notes
            assert "no leader" in notes and "unreachable" in notes

            # and when each comes back, each passes again
            proxy.restore()
            os.killpg(recorder.pid, signal.SIGCONT)
            (downloads / "filler").unlink()
            deadletter.purge(env["HAULER_DATABASE_URL"])
            assert leader.acquire()
            beat = _start(env, tmp_path, "beat2", "-m", "hauler.cli.main", "beat")
            start_worker(["health", "media"], name="w2", env=env)
            document = _until(env, PASSING)
            assert waiting.get(timeout=30, propagate=False) is not None  # the backlog ran

            # and health.check, run by the worker, stores its report and exports it
            result = client_app.send_task("health.check", queue="health").get(timeout=60)
            assert result["status"] == "pass", result
            assert latest(env["HAULER_DATABASE_URL"])[0].id == result["report_id"]
            metrics = wait_for(
                lambda: _metrics_with(port, 'hauler_health_status{check="workers:live/media"} 0.0'),
                timeout=20,
            )
            assert 'hauler_disk_free_ratio{dir="downloads"}' in metrics
        finally:
            _stop(beat)
            with contextlib.suppress(redis.RedisError):
                leader.release()


def test_hauler_health_cli_reports_a_broker_that_is_down(hauler_cli, hauler_env):
    # given a broker URL nothing answers on
    from tests.integration.http_server import free_port

    hauler_env["HAULER_BROKER_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    hauler_env["HAULER_HEALTH_PROBE_TIMEOUT"] = "1"
    # when `hauler health --json` runs
    done = hauler_cli("health", "--json")
    # then it prints the document, exits 1, and the checks that need the broker say so
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "fail"
    assert _status(document, "broker:responseTime") == "fail"
    assert _status(document, "database:responseTime") == "pass"
    assert "broker unreachable" in document["checks"]["recorder:heartbeatAge"][0]["output"]
    text = hauler_cli("health")
    assert "FAIL  broker:responseTime" in text.stdout


def _heal_rows(url: str, component: str, until: str) -> list[tuple[str, dict[str, Any]]]:
    """The heal events of ``component``, once the last is ``until`` (else empty)."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(Activity).where(Activity.event_type.like("health.%")).order_by(Activity.id)
        )
        found = [(r.event_type, r.payload) for r in rows if r.payload.get("component") == component]
    return found if found and found[-1][0] == until else []


def _get_if(url: str, status: int) -> dict[str, Any] | None:
    """The JSON ``url`` answers with ``status`` (and the health media type), else None."""
    response = requests.get(url, timeout=10)
    if response.status_code != status:
        return None
    assert response.headers["Content-Type"] == "application/health+json"
    return dict(response.json())


def _metrics_with(port: str, line: str) -> str | None:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return text if line in text else None


def test_a_stopped_recorder_under_the_supervisor_is_restarted_by_health_check(
    hauler_env, start_worker, client_app: Celery, tmp_path: Path
):
    from hauler.deployment import deployment_id
    from hauler.supervisor_control import children
    from tests.integration.http_server import free_port

    env = dict(hauler_env, **FAST, HAULER_RECORDER_PORT=str(free_port()))
    client = redis.Redis.from_url(env["HAULER_BROKER_URL"])
    deployment = deployment_id(Settings.from_env(env))
    spec = {
        "log_dir": str(tmp_path / "logs"),
        "children": {"recorder": [sys.executable, "-m", "hauler.cli.main", "recorder"]},
    }
    # given a recorder under hauler up's supervisor, and a health worker
    supervisor = _start(
        env, tmp_path, "supervisor", "-m", "tests.support.supervise", json.dumps(spec)
    )
    try:
        start_worker(["health"], env=env)
        _until(env, {("recorder:heartbeatAge", None): "pass"})
        first = wait_for(lambda: (children(client, deployment) or {}).get("recorder"))
        # when the recorder stops (it runs, but does nothing: SIGSTOP)
        os.kill(first["pid"], signal.SIGSTOP)
        _until(env, {("recorder:heartbeatAge", None): "fail"})
        result = client_app.send_task("health.check", queue="health").get(timeout=60)
        # then health.check starts healing it, and the supervisor restarts it
        assert "recorder" in result["healing"], result
        rows = wait_for(
            lambda: _heal_rows(env["HAULER_DATABASE_URL"], "recorder", until="health.healed"),
            timeout=60,
            interval=0.5,
        )
        kinds = [kind for kind, _ in rows]
        assert kinds == ["health.heal-started", "health.healed"], rows
        assert rows[0][1]["action"] == "supervisor:recorder" and rows[0][1]["attempt"] == 1
        now = children(client, deployment)["recorder"]
        assert now["pid"] != first["pid"] and now["started_at"] > first["started_at"]
        assert _status(_document(env), "recorder:heartbeatAge") == "pass"
        healed = 'hauler_heal_attempts_total{component="recorder",outcome="healed"} 1.0'
        wait_for(lambda: _metrics_with(env["HAULER_RECORDER_PORT"], healed), timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            for child in (children(client, deployment) or {}).values():
                os.kill(child["pid"], signal.SIGCONT)
        _stop(supervisor)


BASE_IMAGE = "hauler-base:bookworm"


def _docker() -> Any:
    """A Docker client once the engine runs and the debootstrap base image is built."""
    for script in ("deploy/scripts/start-dockerd.sh", "deploy/docker/build-base.sh"):
        done = subprocess.run(
            [str(ROOT / script)], capture_output=True, text=True, check=False, timeout=900
        )
        if done.returncode != 0:
            from tests.integration.services import missing

            missing(f"Docker ({script}: {done.stderr.strip()[-300:]})")
    import docker

    return docker.from_env()


@pytest.fixture
def aria2_container(hauler_env: dict[str, str]) -> Iterator[tuple[Any, int]]:
    """A tiny container of this test's compose project running the real aria2c (the host's
    binary and libraries, mounted read-only) on a loopback port; removed afterwards."""
    import uuid

    from tests.integration.http_server import free_port
    from tests.integration.services import require_binary

    aria2c = require_binary("aria2c")
    engine = _docker()
    project = f"hauler-health-{uuid.uuid4().hex[:8]}"
    port = free_port()
    container = engine.containers.run(
        BASE_IMAGE,
        command=["aria2c", "--enable-rpc", f"--rpc-listen-port={port}", "--dir=/tmp", "--quiet"],
        name=f"{project}-aria2",
        labels={"com.docker.compose.project": project, "hauler.test": "health"},
        network_mode="host",
        volumes={
            aria2c: {"bind": "/usr/local/bin/aria2c", "mode": "ro"},
            "/usr/lib/x86_64-linux-gnu": {"bind": "/hostlib", "mode": "ro"},
        },
        environment={"LD_LIBRARY_PATH": "/hostlib"},
        detach=True,
    )
    hauler_env.update(
        FAST,
        HAULER_AUTOSCALE_DOCKER_PROJECT=project,
        HAULER_DOWNLOADS_ARIA2_URL=f"http://127.0.0.1:{port}/jsonrpc",
        HAULER_HEALTH_HEAL=f"downloadClient/aria2=container:{container.name}",
        HAULER_HEALTH_HEAL_STOP_TIMEOUT="1",
    )
    try:
        yield container, port
    finally:
        container.remove(force=True)
        engine.close()


def test_a_client_container_that_stops_answering_is_restarted_then_escalated(
    aria2_container, hauler_env: dict[str, str], pg_url: str
):
    import time

    from hauler.errors import ForeignComponent
    from hauler.health import heal
    from hauler.health.report import observe_target
    from hauler.health.restarters import DockerRestarter, restarter_for

    container, _port = aria2_container
    target = "downloadClient/aria2"
    settings = Settings.from_env(hauler_env)
    client = redis.Redis.from_url(hauler_env["HAULER_BROKER_URL"])
    restarter = restarter_for(settings, settings.health.heal[target], client)

    def check(name: str) -> Any:
        return observe_target(settings, name)

    def passes() -> bool:
        seen = check(target)
        return seen is not None and seen.status == 0

    # given aria2 answering in its container
    wait_for(passes, timeout=30, interval=0.3)
    started = restarter.started_at()
    assert started is not None and abs(time.time() - started) < 120
    # while it is still starting, it is left alone
    container.reload()
    pid = int(container.attrs["State"]["Pid"])
    assert pid > 1, container.attrs["State"]
    os.kill(pid, signal.SIGSTOP)  # it runs, but answers nothing
    wait_for(lambda: not passes(), timeout=20)
    assert heal.claim(settings, client, target)
    early = heal.step(settings, client, target, 1, check, now=started + 1)
    assert early.outcome == "waiting" and early.countdown and early.countdown > 5
    # when its grace is over, the container is restarted (Docker itself would not: it runs)
    later = time.time() + settings.health.heal_grace
    first = heal.step(settings, client, target, 1, check, now=later)
    assert first.outcome == "started" and first.attempt == 2 and first.countdown == 1.0
    assert (restarter.started_at() or 0) > started
    # then aria2 answers again, and the next step finds it healed
    wait_for(passes, timeout=30, interval=0.3)
    done = heal.step(settings, client, target, 2, check, now=time.time() + 60)
    assert done.outcome == "healed"

    # when it answers but keeps failing downloads (client-level backoff), or its disk is full
    from hauler.downloads import client_pause
    from hauler.downloads.client_backoff import Backoffs

    Backoffs(client).failure("aria2", now=time.time() - 400)
    Backoffs(client).failure("aria2", now=time.time())
    seen = check(target)
    # then it warns: up, but out of selection for a while
    assert seen is not None and seen.status == 1 and seen.value is True
    assert "out of selection for" in seen.output and "backoff level 2" in seen.output
    client.delete("hauler:downloads:client:aria2:backoff")
    client_pause.pause(client, "aria2", "disk-full")
    assert "paused: disk-full" in check(target).output
    client_pause.resume(client, "aria2")

    # when it fails in a way a restart does not mend (nothing listens where it is looked for)
    from tests.integration.http_server import free_port

    broken = Settings.from_env(
        dict(hauler_env, HAULER_DOWNLOADS_ARIA2_URL=f"http://127.0.0.1:{free_port()}/jsonrpc")
    )
    assert heal.claim(broken, client, target)
    outcomes = []
    for attempt in range(1, 5):
        step = heal.step(
            broken,
            client,
            target,
            attempt,
            lambda t: observe_target(broken, t),
            now=time.time() + 60,
        )
        outcomes.append(step.outcome)
        assert step.countdown == (None if attempt == 4 else 2.0 ** (attempt - 1))
    # then three restarts are tried, with doubling waits, and then it is escalated
    assert outcomes == ["started", "started", "started", "escalated"]
    assert not heal.claim(broken, client, target)  # no new restarts until it passes again
    with session_scope(pg_url) as session:
        rows = list(
            session.scalars(
                select(Activity).where(Activity.event_type.like("health.%")).order_by(Activity.id)
            )
        )
    kinds = [r.event_type for r in rows if r.payload.get("component") == target]
    assert kinds == [
        "health.heal-started",
        "health.healed",
        "health.heal-started",
        "health.heal-failed",
        "health.heal-started",
        "health.heal-failed",
        "health.heal-started",
        "health.heal-failed",
        "health.escalated",
    ], kinds
    escalated = rows[-1].payload
    assert escalated["severity"] == "critical" and escalated["attempts"] == 3

    # and a container of another project is never touched
    other = dict(hauler_env, HAULER_AUTOSCALE_DOCKER_PROJECT="someone-else")
    with pytest.raises(ForeignComponent):
        DockerRestarter(Settings.from_env(other), "container", container.name).restart()


def test_backup_age_against_its_schedule_from_the_real_catalog(tmp_path: Path):
    import time

    from hauler.backups import service
    from hauler.health.report import observe
    from hauler.store.migrate import upgrade

    url = f"sqlite:///{tmp_path}/hauler.db"
    upgrade(url)
    settings = Settings.from_env(
        {
            "HAULER_DATABASE_URL": url,
            "HAULER_DATA_DIR": str(tmp_path),
            "HAULER_BROKER_URL": "redis://127.0.0.1:1/0",
        }
    )

    def backup_check(now: float) -> tuple[str, str]:
        [seen] = observe(settings, ["backup"], now=now)
        return seen.status.word, seen.output

    # given no backup at all: a warning, not a failure (a fresh deployment)
    assert backup_check(time.time()) == ("warn", "no verified backup yet")
    # when a real backup is made and proven by a restore
    made = service.run(settings)
    assert service.verify(settings, made["id"])["status"] == "verified"
    # then it passes now, warns a day and a bit later (one missed), fails two days later
    day = 86400.0  # backups.run is not in this schedule: once a day is assumed
    assert backup_check(time.time())[0] == "pass"
    status, output = backup_check(time.time() + day + 7200)
    assert status == "warn" and "one is due every 24.0 h" in output
    assert backup_check(time.time() + 2 * day + 7200)[0] == "fail"


@pytest.fixture(params=["supervisor", "container"])
def restarter_case(request: pytest.FixtureRequest, hauler_env: dict[str, str], tmp_path: Path):
    """(restarter, missing) for each way of restarting: a running component, and one absent."""
    from hauler.health.restarters import restarter_for

    if request.param == "container":
        container, _port = request.getfixturevalue("aria2_container")
        settings = Settings.from_env(hauler_env)
        yield (
            restarter_for(settings, f"container:{container.name}", None),
            restarter_for(settings, "compose:no-such-service", None),
        )
        return
    settings = Settings.from_env(hauler_env)
    client = redis.Redis.from_url(hauler_env["HAULER_BROKER_URL"])
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    spec = {"log_dir": str(tmp_path / "logs"), "restart_grace": 2, "children": {"sleeper": sleeper}}
    supervisor = _start(
        hauler_env, tmp_path, "supervisor", "-m", "tests.support.supervise", json.dumps(spec)
    )
    try:
        yield (
            restarter_for(settings, "supervisor:sleeper", client),
            restarter_for(settings, "supervisor:nobody", client),
        )
    finally:
        _stop(supervisor)


def test_restarter_contract(restarter_case):
    from hauler.errors import RestartFailed

    restarter, missing = restarter_case
    # given a running component: it says when it started
    started = wait_for(restarter.started_at, timeout=30, interval=0.2)
    import time

    assert abs(time.time() - started) < 120
    # when it is restarted, it says what it did, and it has started again since
    assert restarter.restart()
    wait_for(lambda: (restarter.started_at() or 0) > started, timeout=30, interval=0.2)
    # and one that does not exist cannot be restarted: a clear RestartFailed, not a crash
    assert missing.started_at() is None
    with pytest.raises(RestartFailed):
        missing.restart()
