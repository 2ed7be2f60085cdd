"""``hauler worker|beat|recorder|flower|up``: the long-running processes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import uuid
from typing import Any

from hauler import broker, flower
from hauler.cli.common import need_database, need_redis, settings
from hauler.deployment import deployment_id
from hauler.notify.service import protect as service_protect
from hauler.queues import DEFAULT_QUEUE, QUEUES, check_queue
from hauler.settings import Settings
from hauler.supervisor import Supervisor
from hauler.supervisor_control import SupervisorControl

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="a Celery worker for one or more queues")
    worker.add_argument("queues", nargs="+", metavar="QUEUE", help=f"from: {', '.join(QUEUES)}")
    worker.add_argument("-c", "--concurrency", type=int, help="processes (default per queue)")
    worker.add_argument("-n", "--name", help="node name (default <queues>-<random>@<host>)")
    worker.set_defaults(func=run_worker)
    beat = subparsers.add_parser("beat", help="celery beat with Hauler's schedule")
    beat.set_defaults(func=run_beat)
    recorder = subparsers.add_parser("recorder", help="events → activity log and metrics")
    recorder.add_argument("--port", type=int, help="metrics/health port (HAULER_RECORDER_PORT)")
    recorder.set_defaults(func=run_recorder)
    flower_ui = subparsers.add_parser("flower", help="Flower, the Celery web UI (with a login)")
    flower_ui.set_defaults(func=run_flower)
    up = subparsers.add_parser(
        "up",
        help="workers (autoscaled), beat, recorder and Flower on one machine, in the foreground",
    )
    up.add_argument("--no-flower", action="store_true", help="do not start Flower")
    up.set_defaults(func=run_up)


def worker_argv(
    queues: list[str],
    concurrency: int | None = None,
    name: str | None = None,
    config: Settings | None = None,
) -> list[str]:
    """The celery command line of a worker for ``queues``."""
    for queue in queues:
        if queue != DEFAULT_QUEUE:
            check_queue(queue)
    config = config or settings()
    default = max(config.queues[q].concurrency for q in queues if q in config.queues)
    node = name or f"{'+'.join(q for q in queues if q != DEFAULT_QUEUE)}-{uuid.uuid4().hex[:6]}@%h"
    return [
        *CELERY,
        "worker",
        "-Q",
        ",".join(queues),
        "-n",
        node,
        "-c",
        str(concurrency or default),
        "-E",
        "--prefetch-multiplier",
        "1",
        "-l",
        config.log_level,
    ]


def beat_argv() -> list[str]:
    """celery beat with Hauler's scheduler (celeryconfig: one beat at a time, via Redis)."""
    return [*CELERY, "beat", "-l", settings().log_level]


def flower_argv() -> list[str]:
    """Flower's command line: no secret on it (the login goes by environment)."""
    config = settings()
    return [*CELERY, "flower", f"--port={config.flower_port}", f"--address={config.listen_address}"]


def run_worker(args: argparse.Namespace) -> int:
    need_redis()
    need_database()
    argv = worker_argv(args.queues, args.concurrency, args.name)
    os.execv(argv[0], argv)
    return 0  # not reached


def run_beat(args: argparse.Namespace) -> int:
    need_redis()
    argv = beat_argv()
    os.execv(argv[0], argv)
    return 0


def run_flower(args: argparse.Namespace) -> int:
    need_redis()
    config = settings()
    login = flower.login(config)
    flower.write_scrape_password(config, login)
    _announce_flower_login(login)
    sys.stdout.flush()  # exec discards what is still buffered
    argv = flower_argv()
    os.execve(argv[0], argv, flower.environment(os.environ, login))
    return 0


def run_recorder(args: argparse.Namespace) -> int:
    need_redis()
    need_database()
    from hauler.recorder.service import Recorder
    from workers.app import app

    config = settings()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(message)s")
    Recorder(config, app).run(port=args.port)
    return 0


def run_up(args: argparse.Namespace) -> int:
    need_redis()
    need_database()
    config = settings()
    log_dir = config.data_dir / "logs"
    # health.recover asks, through Redis, for a child of this deployment to be restarted
    control = SupervisorControl(broker.shared(config.broker_url), deployment_id(config))
    supervisor = Supervisor(os.environ, log_dir, grace=90.0, control=control)
    hauler = [sys.executable, "-m", "hauler.cli.main"]
    # The autoscaler (local backend) starts each queue's workers (at least its minimum)
    # and scales them; on Ctrl-C it warm-stops them all before it exits.
    supervisor.start(
        "autoscaler", [*hauler, "autoscale", "--backend", "local", "--stop-workers-on-exit"]
    )
    supervisor.start("beat", beat_argv())
    supervisor.start("recorder", [*hauler, "recorder"])
    login = None if args.no_flower else flower.login(config)
    if login is not None:
        flower.write_scrape_password(config, login)
        supervisor.start("flower", flower_argv(), env=flower.environment(os.environ, login))
    print(
        f"hauler up: autoscaler, beat, recorder{', flower' if not args.no_flower else ''};"
        f" logs in {log_dir}"
    )
    print(f"  metrics   http://127.0.0.1:{config.recorder_port}/metrics  (health: /health)")
    if login is not None:
        print(f"  flower    http://{config.listen_address}:{config.flower_port}/")
        _announce_flower_login(login)
    print("  status    hauler status      Ctrl-C stops everything", flush=True)
    _announce_maintenance(config, supervisor)
    return supervisor.run()


def _announce_maintenance(config: Settings, supervisor: Supervisor) -> None:
    """Tell the maintenance receivers Hauler is back, and that it stops when it is asked to."""
    if not any(r.maintenance for r in config.notify.receivers):
        return
    from hauler.notify import announce

    service_protect(config)
    try:
        announce.back(config)
    except Exception as exc:  # never keeps Hauler from running
        print(f"hauler: announcing the start failed: {exc}", file=sys.stderr)

    def going_down() -> None:
        if supervisor.signalled is not None:
            name = signal.Signals(supervisor.signalled).name
            announce.going_down(config, reason=f"asked to stop ({name})")
        else:
            announce.going_down(config, reason="stopping: a process kept exiting (see its log)")

    supervisor.on_stop = going_down


def _announce_flower_login(login: flower.FlowerLogin) -> None:
    """The generated password once, at its creation; afterwards where it is kept."""
    if login.generated:
        print(f"  flower login  {login.basic_auth}  (shown once; kept in {login.path}, mode 0600)")
    elif login.configured:
        print("  flower login  from HAULER_FLOWER_BASIC_AUTH")
    else:
        print(f"  flower login  user {login.user}; the password is in {login.path}")
    if login.scrape_password:
        print(f"  flower login  user {flower.SCRAPE_USER} for Prometheus (password file set)")
