"""The local backend: ``celery worker`` processes on this machine.

Workers run in their own sessions, so they outlive the autoscaler; a new autoscaler
finds them by their node name (``<queue>-as<id>@host``) and adopts them — only those of
its own deployment (``HAULER_DEPLOYMENT`` in the worker's environment, see
hauler.deployment), so another Hauler stack on the same host is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid

import psutil

from autoscale.backends.base import WorkerHandle, node_prefix
from hauler import deployment
from hauler.queues import DEFAULT_QUEUE
from hauler.settings import Settings


class LocalBackend:
    """Starts and stops worker processes with Hauler's worker command line."""

    name = "local"

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.env = deployment.mark(os.environ if env is None else env, settings)
        self.log_dir = settings.data_dir / "logs"
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._stopping: set[int] = set()

    def workers(self, queue: str) -> list[WorkerHandle]:
        self._reap()
        prefix = f"-n {node_prefix(queue)}"
        handles = []
        for process in psutil.process_iter(["pid", "ppid", "cmdline", "create_time", "status"]):
            info = process.info
            argv = info.get("cmdline") or []
            node = _node(argv)
            if node is None or not f"-n {node}".startswith(prefix):
                continue
            if info.get("status") == psutil.STATUS_ZOMBIE or _is_pool_child(info["ppid"], node):
                continue
            if not self._ours(process):
                continue
            handles.append(
                WorkerHandle(
                    id=str(info["pid"]),
                    queue=queue,
                    node=node,
                    started_at=float(info["create_time"]),
                    stopping=info["pid"] in self._stopping,
                )
            )
        return sorted(handles, key=lambda h: h.started_at)

    def _ours(self, process: psutil.Process) -> bool:
        """A worker of this deployment (not of another stack on this host)."""
        try:
            return deployment.belongs(process.environ(), self.settings)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def start(self, queue: str, count: int) -> list[WorkerHandle]:
        from hauler.cli.processes import worker_argv

        self.log_dir.mkdir(parents=True, exist_ok=True)
        queues = [queue, DEFAULT_QUEUE] if queue == "health" else [queue]
        handles = []
        for _ in range(count):
            node = f"{node_prefix(queue)}{uuid.uuid4().hex[:8]}@%h"
            argv = worker_argv(queues, name=node, config=self.settings)
            log = self.log_dir / f"worker-{node.split('@')[0]}.log"
            with log.open("ab") as out:
                child = subprocess.Popen(
                    argv,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._children[child.pid] = child
            handles.append(WorkerHandle(str(child.pid), queue, node, time.time()))
        return handles

    def stop(self, handle: WorkerHandle) -> None:
        pid = int(handle.id)
        self._stopping.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # warm shutdown: finish the current task

    def close(self, *, stop_workers: bool = False, timeout: float = 60.0) -> None:
        if not stop_workers:
            return
        pids = [int(h.id) for q in self.settings.queues for h in self.workers(q)]
        for pid in pids:
            self.stop(WorkerHandle(str(pid), "", "", 0.0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            self._reap()
            time.sleep(0.2)
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]
                self._stopping.discard(pid)
        self._stopping = {pid for pid in self._stopping if _alive(pid)}


def _node(argv: list[str]) -> str | None:
    """The ``-n`` value of a celery worker command line."""
    if "worker" not in argv or "-n" not in argv:
        return None
    index = argv.index("-n")
    return argv[index + 1] if index + 1 < len(argv) else None


def _is_pool_child(ppid: int, node: str) -> bool:
    """Pool processes are forks of the worker: same command line as their parent."""
    try:
        return _node(psutil.Process(ppid).cmdline()) == node
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
