"""Past one host: workers on other hosts (network namespaces) share one broker's work.

Redis and PostgreSQL run on the server host (198.18.0.1), real ``celery worker`` processes
on two worker hosts join with nothing but the broker and database URLs in their
environment. One worker host's link is cut mid-run: the tasks it held come back promptly
(hauler/redelivery.py, dead after 3 s) and the other host finishes them; nothing is lost.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from hauler.redelivery import RESTORED_KEY
from hauler.store.migrate import upgrade
from tests.integration.compose_stack import build_hauler_image
from tests.integration.conftest import ROOT
from tests.integration.netns import SERVER_ADDRESS, Hosts
from tests.integration.services import missing, require_binary, wait_for
from tests.integration.unix_forward import UnixForward

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEAD_AFTER = 3  # seconds without a heartbeat before a worker counts as dead, here
TASKS = 16
SECONDS = 1.5  # each task's run time


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Hosts, Path, dict[str, str]]]:
    """Server host with Redis, PostgreSQL (migrated) and the recorder; two empty worker hosts."""
    require_binary("redis-server")
    if os.geteuid() != 0 or not (PG_BIN / "postgres").exists():
        missing("root and PostgreSQL 15's server binaries (network namespaces, a server in one)")
    run = Path(tempfile.mkdtemp(prefix="hauler-compose-hosts-"))
    run.chmod(0o755)  # the postgres user reaches its data and socket directory
    hosts = Hosts(("w1", "w2")).create()
    try:
        # Redis for other hosts: bound to the server's address, with a password (its
        # protected mode refuses other hosts otherwise), given on stdin, not on argv
        password = secrets.token_urlsafe(16)
        redis_conf = (
            f'bind {SERVER_ADDRESS}\nport 6379\nsave ""\nrequirepass {password}\n'
            f"unixsocket {run / 'redis.sock'}\nunixsocketperm 770\n"
        )
        server = hosts.spawn(
            "srv", ["redis-server", "-"], os.environ, tmp_path / "redis.log", stdin=subprocess.PIPE
        )
        assert server.stdin is not None
        server.stdin.write(redis_conf.encode())
        server.stdin.close()
        pgdata = run / "pg"
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        sockets = run / "pg-socket"
        for folder in (pgdata, sockets):
            subprocess.run(["install", "-d", "-o", "postgres", str(folder)], check=True)
        pwfile = sockets / "pw"
        pwfile.write_text(password + "\n")
        initdb = [str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", "hauler", f"--pwfile={pwfile}"]
        subprocess.run(
            [*as_postgres, *initdb, "--auth-local=trust", "--auth-host=scram-sha-256"],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        with (pgdata / "pg_hba.conf").open("a") as hba:  # the other hosts, with the password
            hba.write(f"host all all {SERVER_ADDRESS}/24 scram-sha-256\n")
        postgres = [str(PG_BIN / "postgres"), "-D", str(pgdata), "-k", str(sockets)]
        hosts.spawn(
            "srv",
            [
                *as_postgres,
                *postgres,
                "-c",
                f"listen_addresses={SERVER_ADDRESS}",
                "-c",
                "fsync=off",
            ],
            os.environ,
            tmp_path / "postgres.log",
        )
        wait_for(lambda: (run / "redis.sock").exists(), timeout=30)
        ready = [str(PG_BIN / "pg_isready"), "-q", "-h", str(sockets), "-U", "hauler"]
        wait_for(lambda: subprocess.run(ready, check=False).returncode == 0, timeout=60)
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", str(sockets), "-U", "hauler", "hauler"], check=True
        )
        upgrade(f"postgresql://hauler@/hauler?host={sockets}")  # from here, through its socket
        env = {
            **os.environ,
            "HAULER_BROKER_URL": f"redis://:{password}@{SERVER_ADDRESS}:6379/0",
            "HAULER_DATABASE_URL": f"postgresql://hauler:{password}@{SERVER_ADDRESS}:5432/hauler",
            "HAULER_IMPORTS": "tests.integration.support_tasks",
            "HAULER_REDELIVERY_DEAD_AFTER": str(DEAD_AFTER),
            "HAULER_REDELIVERY_SWEEP_SECONDS": "0.5",
            "HAULER_RECORDER_FLUSH_SECONDS": "0.2",
            "PYTHONPATH": str(ROOT),
        }
        recorder = [sys.executable, "-m", "hauler.cli.main", "recorder"]
        hosts.spawn(
            "srv", recorder, {**env, "HAULER_DATA_DIR": str(tmp_path / "srv")}, tmp_path / "rec.log"
        )
        yield hosts, run, {**env, "TEST_REDIS_PASSWORD": password}
    finally:
        hosts.destroy()
        subprocess.run(["rm", "-rf", str(run)], check=False)


def _worker(hosts: Hosts, host: str, env: dict[str, str], folder: Path) -> Path:
    """A real ``celery worker`` on ``host``: two processes, node ``<host>@…``."""
    log = folder / f"worker-{host}.log"
    argv = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "health"]
    argv += ["-n", f"{host}@%h", "-c", "2", "--prefetch-multiplier", "1", "-l", "INFO"]
    argv += ["--without-gossip", "--without-mingle"]
    data = {"HAULER_DATA_DIR": str(folder / host), "TEST_NODE": host}
    hosts.spawn(host, argv, {**env, **data}, log, cwd=ROOT)
    return log


def test_workers_on_other_hosts_share_the_work_and_a_cut_host_s_tasks_come_back(
    cluster, tmp_path: Path
):
    hosts, run, env = cluster
    started = time.monotonic()
    password = env["TEST_REDIS_PASSWORD"]
    local = f"redis+socket://:{password}@{run}/redis.sock"
    app = Celery("many-hosts", broker=local, backend=local)
    r = redis.Redis(unix_socket_path=str(run / "redis.sock"), password=password)
    try:
        # given a worker on each of two other hosts, joined by their environment alone
        logs = {host: _worker(hosts, host, env, tmp_path) for host in ("w1", "w2")}
        for log in logs.values():
            wait_for(lambda log=log: "ready." in log.read_text(errors="replace"), timeout=90)
        # when a burst is sent, the two hosts share it
        keys = [f"job-{i}" for i in range(TASKS)]
        results = {k: app.send_task("tests.slow", args=[k, SECONDS], queue="health") for k in keys}

        def entries(kind: str) -> dict[str, set[str]]:
            found: dict[str, set[str]] = {"w1": set(), "w2": set()}
            for key in keys:
                for raw in r.lrange(f"slow:{key}:{kind}", 0, -1):
                    found[json.loads(raw)["worker"]].add(key)
            return found

        wait_for(lambda: all(entries("finished").values()), timeout=60, interval=0.2)
        # and w1 is cut off while it runs tasks
        wait_for(lambda: entries("started")["w1"] - entries("finished")["w1"], timeout=30)
        hosts.cut("w1")
        cut_at = time.monotonic()
        held = entries("started")["w1"] - entries("finished")["w1"]
        # then every task completes — those w1 held, on w2, once w1 counts as dead
        done = {k: result.get(timeout=90) for k, result in results.items()}
        recovered = time.monotonic() - cut_at
        assert set(done) == set(keys)
        assert {done[k]["worker"] for k in held} == {"w2"}, (held, done)
        assert int(r.get(RESTORED_KEY) or 0) >= len(held) > 0
        assert {d["worker"] for d in done.values()} == {"w1", "w2"}
        print(
            f"{len(held)} task(s) held by the cut host finished on w2 {recovered:.1f}s after "
            f"the cut; {time.monotonic() - started:.0f}s so far"
        )
        _remote_engine(hosts, run, env, app)
        print(f"remote engine checked; {time.monotonic() - started:.0f}s in all")
    except BaseException:
        for name in ("worker-w1.log", "worker-w2.log", "rec.log"):
            text = (tmp_path / name).read_text(errors="replace").splitlines()
            print(f"--- {name} ---", *text[-30:], sep="\n")
        raise
    finally:
        app.close()
        r.close()


def _remote_engine(hosts: Hosts, run: Path, env: dict[str, str], app: Celery) -> None:
    """The docker backend on w2 drives the server host's engine, given as a tcp:// URL.

    The engine's socket is exposed on 198.18.0.1:2375 inside the server namespace. Its
    containers use host networking, which is the root namespace here, so they reach the
    broker and database through forwarders on 127.0.0.1 to the servers' Unix sockets.
    """
    import docker

    image = build_hauler_image()
    engine_log = run / "engine-forward.log"
    forward = [sys.executable, str(ROOT / "tests/integration/unix_forward.py")]
    hosts.spawn("srv", [*forward, SERVER_ADDRESS, "2375", "/var/run/docker.sock"], env, engine_log)
    redis_port = UnixForward("127.0.0.1", 0, str(run / "redis.sock"))
    pg_port = UnixForward("127.0.0.1", 0, str(run / "pg-socket" / ".s.PGSQL.5432"))
    project = f"{hosts.ns('remote')}"
    remote = {k: v for k, v in env.items() if k != "HAULER_IMPORTS"}  # not in the image
    remote |= {
        "HAULER_AUTOSCALE_DOCKER_URL": f"tcp://{SERVER_ADDRESS}:2375",
        "HAULER_AUTOSCALE_DOCKER_PROJECT": project,
        "HAULER_AUTOSCALE_DOCKER_IMAGE": image,
        "HAULER_AUTOSCALE_DOCKER_STOP_GRACE": "30",
        # what the container is given: the servers as seen from the engine's host
        "HAULER_BROKER_URL": f"redis://:{env['TEST_REDIS_PASSWORD']}@127.0.0.1:{redis_port.port}/0",
        "HAULER_DATABASE_URL": f"postgresql://hauler@127.0.0.1:{pg_port.port}/hauler",
        "HAULER_DATA_DIR": "/data",
    }
    script = [sys.executable, str(ROOT / "tests/integration/remote_engine.py")]
    engine = docker.from_env()
    try:
        wait_for(lambda: engine_log.exists(), timeout=10)
        # when w2's backend starts a worker through the remote URL
        out = hosts.run("w2", [*script, "start"], remote)
        assert out.returncode == 0, out.stderr[-2000:]
        handle = json.loads(out.stdout.splitlines()[-1])
        # then the engine runs it with the project's compose labels, and it joins the broker
        labels = engine.containers.get(handle["id"]).labels
        assert labels["com.docker.compose.project"] == project
        assert labels["com.docker.compose.service"] == "worker-health"
        node = handle["node"].replace("%h", socket.gethostname())
        wait_for(lambda: app.control.ping(destination=[node], timeout=1.0), timeout=90, interval=1)
        # and the same backend lists it and warm-stops it, through the same URL
        out = hosts.run("w2", [*script, "stop"], remote, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert json.loads(out.stdout.splitlines()[-1]) == {"listed": [handle["id"]], "left": []}
    finally:
        label = {"label": f"com.docker.compose.project={project}"}
        for container in engine.containers.list(all=True, filters=label):
            container.remove(force=True)
        engine.close()
        redis_port.close()
        pg_port.close()
