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
from tests.integration.conftest import ROOT
from tests.integration.netns import SERVER_ADDRESS, Hosts
from tests.integration.services import missing, require_binary, wait_for

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
        subprocess.run(
            [*as_postgres, str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", "hauler"]
            + [f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        with (pgdata / "pg_hba.conf").open("a") as hba:  # the other hosts, with the password
            hba.write(f"host all all {SERVER_ADDRESS}/24 scram-sha-256\n")
        hosts.spawn(
            "srv",
            [*as_postgres, str(PG_BIN / "postgres"), "-D", str(pgdata), "-k", str(sockets)]
            + ["-c", f"listen_addresses={SERVER_ADDRESS}", "-c", "fsync=off"],
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
            f"the cut; {time.monotonic() - started:.0f}s in all"
        )
    except BaseException:
        for name in ("worker-w1.log", "worker-w2.log", "rec.log"):
            text = (tmp_path / name).read_text(errors="replace").splitlines()
            print(f"--- {name} ---", *text[-30:], sep="\n")
        raise
    finally:
        app.close()
        r.close()
